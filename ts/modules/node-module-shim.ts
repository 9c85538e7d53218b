/**
 * Hot swap for `.node` kernel addons. Node can neither unload an addon nor
 * re-require one in place (it caches by path, and so does dlopen), so every
 * version is loaded from its own content-addressed path and stays mapped for
 * the life of the process; a stable object routes each call to the newest.
 *
 * A version goes through the module manager's checks first: the ELF header,
 * the copy to `<cacheDir>/<sha256>.so`, the kernel probe in a child process,
 * then a second child that runs the addon's N-API initialisation and its
 * describe(); only then does this process load it. Node loads the cached copy
 * itself, the same path `lat.loadModule()` gives the core, so the addon's JS
 * side and the kernel in the slots are one mapping of one file.
 *
 * An addon is Node code: it runs in this process, unconfined (no kernel host
 * can run it), and the probes only show it loads. So the shim loads nothing
 * unless its creator says they trust the addons (`trustNativeAddon: true`).
 */
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { invalidTypeError, requireInteger } from '../errors.js';
import { type LoadModuleOptions, ModuleRefusedError, checkModuleFile, contentAddressedCopy, defaultModuleCacheDir } from './module-manager.js';
import type { NodeProbeReport } from './node-probe-child.js';
import { type NodeKernelAddon, type NodeKernelDescription, nodeKernelDefect } from './node-kernel-addon.js';
import { DEFAULT_PROBE_TIMEOUT_MS, probeModule, runProbeChild } from './probe.js';

export interface NodeModuleShimOptions {
  /** Where content-addressed copies go (default: the module manager's cache). */
  cacheDir?: string;
  /** How long each probe child may take (default 10000 ms). */
  probeTimeoutMs?: number;
  /**
   * Must be `true` for load() to load anything: the caller vouches for the
   * addons it loads, which run unconfined in this process.
   */
  trustNativeAddon?: boolean;
}

/** One version of the addon, mapped into this process. */
export interface NodeModuleVersion {
  /** 1 for the first distinct version this shim loaded, then 2, ... */
  version: number;
  /** The file the caller named when this version was first loaded. */
  source: string;
  sha256: string;
  /** The content-addressed copy Node and the core load. */
  cachedPath: string;
  description: NodeKernelDescription;
}

/**
 * What loadKernel() loads a version into: a lattice (ts/lattice/lattice.ts),
 * named by what it does so that this module, below the lattice, does not
 * import it.
 */
export interface KernelModuleLoader {
  /** Loads (self-test included) the module at `file` and returns its id for swap(). */
  loadModule(file: string, options?: LoadModuleOptions): Promise<number>;
}

interface MappedVersion {
  info: NodeModuleVersion;
  exports: NodeKernelAddon;
}

const childScript = fileURLToPath(new URL('./node-probe-child.js', import.meta.url));

/**
 * A stable handle on a `.node` kernel addon whose versions are hot-swapped:
 * `shim.addon` always calls into the newest version loaded, even through a
 * function taken from it before the swap.
 */
export class NodeModuleShim<Addon extends NodeKernelAddon = NodeKernelAddon> {
  readonly cacheDir: string;
  readonly probeTimeoutMs: number;
  readonly trustNativeAddon: boolean;
  /** Every version ever loaded, by sha256; none is ever unmapped. */
  readonly #mapped = new Map<string, MappedVersion>();
  #newest: MappedVersion | null = null;
  readonly #routes = new Map<PropertyKey, unknown>();
  readonly addon: Addon;

  constructor(options: NodeModuleShimOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw invalidTypeError('options', 'an object such as { cacheDir: "/tmp/modules" }', options);
    }
    if (options.cacheDir !== undefined && (typeof options.cacheDir !== 'string' || options.cacheDir === '')) {
      throw invalidTypeError('cacheDir', 'a directory path', options.cacheDir);
    }
    this.cacheDir = path.resolve(options.cacheDir ?? defaultModuleCacheDir());
    this.probeTimeoutMs = requireInteger('probeTimeoutMs', options.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS, 1, 600_000);
    if (options.trustNativeAddon !== undefined && typeof options.trustNativeAddon !== 'boolean') {
      throw invalidTypeError('trustNativeAddon', 'true or false', options.trustNativeAddon);
    }
    this.trustNativeAddon = options.trustNativeAddon === true;
    this.addon = new Proxy({} as Addon, { get: (_, key) => this.#route(key) });
  }

  /**
   * Checks `file` in child processes, loads it and makes it the version
   * `addon` calls into. The same bytes loaded again become the newest without
   * mapping anything new. Throws ModuleRefusedError naming the file and the
   * reason (always, unless the shim was made with `trustNativeAddon: true`);
   * the newest version is then unchanged.
   */
  async load(file: string): Promise<NodeModuleVersion> {
    if (typeof file !== 'string' || file === '') throw invalidTypeError('file', 'the path of a .node kernel addon', file);
    const source = checkModuleFile(file);
    if (!this.trustNativeAddon) {
      throw new ModuleRefusedError(
        source,
        'a .node addon is Node code and cannot run confined in a kernel host; create the shim with ' +
          '{ trustNativeAddon: true } only if you trust it to run unconfined in this process',
      );
    }

    const { cachedPath, sha256 } = contentAddressedCopy(source, this.cacheDir);
    const known = this.#mapped.get(sha256);
    if (known) {
      this.#newest = known;
      return known.info;
    }
    const kernelDefect = await probeModule(cachedPath, null, this.probeTimeoutMs);
    if (kernelDefect !== null) throw new ModuleRefusedError(source, kernelDefect);
    const probed = await probeNodeAddon(cachedPath, this.probeTimeoutMs);
    if (probed.defect !== null) throw new ModuleRefusedError(source, probed.defect);

    const exports = loadAddon(source, cachedPath);
    const info: NodeModuleVersion = {
      version: this.#mapped.size + 1,
      source,
      sha256,
      cachedPath,
      description: exports.describe(),
    };
    const mapped = { info, exports };
    this.#mapped.set(sha256, mapped);
    this.#newest = mapped;
    return info;
  }

  /**
   * Loads the kernel of a version (default: the newest) into `lattice` with
   * lat.loadModule() (self-test included) and returns the module id for
   * lat.swap(). The core maps the very file Node loaded.
   */
  async loadKernel(lattice: KernelModuleLoader, version: NodeModuleVersion | null = this.newest): Promise<number> {
    if (version === null) throw new Error('loadKernel(): no version is loaded yet: call shim.load(file) first');
    const mapped = this.#mapped.get(version.sha256);
    if (!mapped) throw invalidTypeError('version', "a version returned by this shim's load()", version);
    return lattice.loadModule(mapped.info.cachedPath, { cacheDir: this.cacheDir, probeTimeoutMs: this.probeTimeoutMs });
  }

  /** The version `addon` calls into, or null before the first load(). */
  get newest(): NodeModuleVersion | null {
    return this.#newest?.info ?? null;
  }

  /**
   * Distinct versions mapped into this process by this shim. Each stays
   * mapped until the process exits: a restart is the only way to reclaim them.
   */
  get versionsMapped(): number {
    return this.#mapped.size;
  }

  /** Every version mapped, oldest first. */
  versions(): NodeModuleVersion[] {
    return [...this.#mapped.values()].map((mapped) => mapped.info);
  }

  /**
   * A function export becomes a stable function that looks the newest version
   * up on every call; any other export is read from the newest version.
   */
  #route(key: PropertyKey): unknown {
    const newest = this.#newest;
    if (newest === null) {
      throw new Error(`addon.${String(key)}: no version is loaded yet: call shim.load(file) first`);
    }
    const value: unknown = Reflect.get(newest.exports, key);
    if (typeof value !== 'function') return value;
    let route = this.#routes.get(key);
    if (route === undefined) {
      route = (...args: unknown[]): unknown => {
        const exports = this.#newest!.exports;
        const current: unknown = Reflect.get(exports, key);
        if (typeof current !== 'function') {
          throw new Error(`addon.${String(key)}: version ${this.#newest!.info.version} does not export it as a function`);
        }
        return Reflect.apply(current, exports, args);
      };
      this.#routes.set(key, route);
    }
    return route;
  }
}

/** Loads an addon that passed the probes into this process, as require() would. */
function loadAddon(source: string, cachedPath: string): NodeKernelAddon {
  const module = { exports: {} as unknown };
  try {
    process.dlopen(module, cachedPath);
  } catch (error) {
    throw new ModuleRefusedError(source, `Node cannot load it (${error instanceof Error ? error.message : String(error)})`);
  }
  const defect = nodeKernelDefect(module.exports);
  if (defect !== null) throw new ModuleRefusedError(source, defect);
  return module.exports as NodeKernelAddon;
}

/** Runs node-probe-child.ts on `file`; resolves with its report, never rejects for the addon's sake. */
async function probeNodeAddon(file: string, timeoutMs: number): Promise<NodeProbeReport> {
  const outcome = await runProbeChild<NodeProbeReport>([childScript, file], timeoutMs, {
    hang: 'its N-API initialisation did not finish within {ms} ms in the probe process',
    crash: 'its N-API initialisation killed the probe process with {signal}',
  });
  return 'report' in outcome ? outcome.report : { defect: outcome.defect };
}
