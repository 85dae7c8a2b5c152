import { createRequire } from 'node:module';
import type * as UWS from 'uWebSockets.js';

const require = createRequire(import.meta.url);

export class UwsFallbackError extends Error {
  constructor() {
    super(
      'the native uWebSockets.js binding did not load, and the package fell back to a slow JavaScript imitation. ' +
        `hexfleet needs the native build (Node.js ${process.versions.node}, ABI ${process.versions.modules}, ` +
        `${process.platform}-${process.arch}, glibc >= 2.34). Reinstall with npm ci on this machine, or set ` +
        'HEXFLEET_ALLOW_UWS_FALLBACK=true to run on the imitation anyway (tests and demos only).',
    );
    this.name = 'UwsFallbackError';
  }
}

/**
 * Loads uWebSockets.js and tells whether the native binding is what loaded.
 * The package never fails: when its binary does not match, it prints a
 * warning and returns a JavaScript imitation whose App is a plain function.
 */
export function loadUws(allowFallback: boolean): { uws: typeof UWS; native: boolean } {
  const uws = require('uWebSockets.js') as typeof UWS;
  const native = Function.prototype.toString.call(uws.App).includes('[native code]');
  if (!native && !allowFallback) throw new UwsFallbackError();
  return { uws, native };
}
