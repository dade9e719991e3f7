/** SPDX 2.3 JSON of an inventory: not written yet. */
import { JailCopyError } from '../errors.js';
import type { JailInventory } from './inventory.js';

export function toSpdx(inv: JailInventory, _options: { epoch: number; name: string }): string {
  throw new JailCopyError(inv.jail, 'SPDX output is not implemented yet; use --format cyclonedx');
}
