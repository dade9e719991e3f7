/**
 * OCI images of a jail: `buildImage(jail, { tag, oci | tar, … })` writes a layout or an archive with one
 * reproducible layer; the pieces (layer writer, layout, platform table, reference parser) for callers
 * that need one alone.
 */
export { buildImage, DEFAULT_SOURCE_DATE_EPOCH, type ImageOptions, type ImageResult } from './build.js';
export { ImageError, type ImageErrorKind } from './errors.js';
export { parseReference, type ImageReference } from './reference.js';
export { OCI_PLATFORMS, platformOf, type OciPlatform } from './platform.js';
export { writeLayer, GZIP_LEVEL, LAYER_MEDIA_TYPE, type LayerCompression, type LayerOptions, type LayerResult } from './layer.js';
export { OciLayout, type Descriptor } from './layout.js';
export { ANNOTATION_JAIL_MANIFEST, ANNOTATION_SBOM } from './config.js';
export { jailTree, jailElfFiles } from '../output/jail-tree.js';
