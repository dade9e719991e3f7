/**
 * One input's link map as ld.so keeps it (dl-object.c, _dl_name_match_p): the objects in load order,
 * each with the names it answers to, its loader and its origin.
 */
import * as path from 'node:path';
import type { ElfInfo } from '../elf/file.js';

/** An object mapped into a namespace (ld.so's struct link_map, the parts the resolver needs). */
export interface LoadedObject {
  path: string;
  names: Set<string>;
  /** The first name it was requested as (the graph node's `name`). */
  firstName: string;
  info: ElfInfo;
  loader: LoadedObject | undefined;
  isMain: boolean;
  isInterpreter: boolean;
  origin: () => string | undefined;
  /** The name a family that keeps one matches later requests against (musl's shortname). */
  shortname?: string;
  /** The name the loader opened it by, where a family keeps it as built (musl's dso->name). */
  openedAs?: string;
  rpathDirs?: string[];
  runpathDirs?: string[];
  /** This object as the answer to a request it already satisfies: one object per loaded object, not per request. */
  reused?: { kind: 'reused'; object: LoadedObject };
}

/** One input's link map: the objects in load order and every name each answers to. */
export interface Namespace {
  objects: LoadedObject[];
  /** Requested names, paths and SONAMEs, each to the first object (in load order) answering to it. */
  byName: Map<string, LoadedObject>;
}

export function registerName(ns: Namespace, name: string, obj: LoadedObject): void {
  if (!ns.byName.has(name)) ns.byName.set(name, obj);
}

export function addToNamespace(ns: Namespace, obj: LoadedObject): void {
  ns.objects.push(obj);
  registerName(ns, obj.path, obj);
  // forEach, not for…of: the BFS runs mostly before V8 optimises it, where each iterator step allocates.
  obj.names.forEach((n) => registerName(ns, n, obj));
  const soname = obj.info.dynamic?.soname;
  if (soname !== undefined) registerName(ns, soname, obj);
}

/** A library newly mapped at `found` for `name`, loaded by `requester`. */
export function libraryObject(found: string, name: string, info: ElfInfo, requester: LoadedObject): LoadedObject {
  return {
    path: found,
    names: new Set<string>().add(name),
    firstName: name,
    info,
    loader: requester,
    isMain: false,
    isInterpreter: false,
    // dl-object.c: a library's origin is the directory of the name it was found under, unresolved.
    origin: () => path.posix.dirname(found),
  };
}
