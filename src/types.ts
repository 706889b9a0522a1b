/**
 * @fileoverview The public data model: options and reports of transform(), inspect() and verify().
 * These shapes are the stable JSON the CLI prints with --json (see docs/json.md). Add fields; never
 * rename or remove them.
 */

/** The roles of the allocator family. Each maps to one host import (or an adapter over them). */
export type AllocRole =
  | 'malloc'
  | 'free'
  | 'calloc'
  | 'realloc'
  | 'aligned_alloc'
  | 'memalign'
  | 'posix_memalign'
  | 'malloc_usable_size'
  | 'rust_alloc'
  | 'rust_dealloc'
  | 'rust_realloc'
  | 'rust_alloc_zeroed';

/** How a family member was identified. */
export type Identification = 'export' | 'import' | 'name' | 'option' | 'glue' | 'analysis' | 'fingerprint';

/** Memory layout kinds. */
export type LayoutKind =
  /** data, then stack (growing down towards the data), then heap: emcc and wasm-ld's default. */
  | 'data-stack-heap'
  /** stack first, then data, then heap: wasm-ld --stack-first, Rust. */
  | 'stack-data-heap'
  /** no stack pointer found: data, then heap. */
  | 'data-heap'
  /** the layout could not be classified. */
  | 'unknown';

export interface MemoryInfo {
  initialPages: number;
  maximumPages: number | null;
  shared: boolean;
  is64: boolean;
  /** Present when the memory is imported. */
  imported: { module: string; name: string } | null;
  /** Export names of the memory (may be empty). */
  exportedAs: string[];
}

export interface DataSegmentInfo {
  index: number;
  /** Offset for active segments with a constant offset; null for passive or non-constant. */
  offset: number | null;
  size: number;
  passive: boolean;
}

export interface HeapBaseDerivation {
  value: number;
  /** How the value was found, e.g. 'export __heap_base', 'stack pointer initial value (data-stack-heap)'. */
  source: string;
  /** 'exact' when read from the module; 'computed' from the layout; 'estimated' when bss may be unseen. */
  confidence: 'exact' | 'computed' | 'estimated';
}

export interface Layout {
  kind: LayoutKind;
  memory: MemoryInfo;
  dataSegments: DataSegmentInfo[];
  /** Lowest offset of active data, or null when there is none. */
  dataStart: number | null;
  /** End of static data (max of segment ends and any __data_end), aligned as found. */
  dataEnd: number;
  /** The stack pointer global, when one is found. */
  stackPointer: { global: number; name: string | null; initial: number } | null;
  /** [low, high) of the stack region, when known. */
  stack: { low: number; high: number } | null;
  heapBase: HeapBaseDerivation;
  /** Existing exports of __heap_base / __data_end, if any (values). */
  existing: { heapBase: number | null; dataEnd: number | null };
  /**
   * The end of data + bss as the linker would export it in `__data_end`, when known. `dataEnd`
   * above only covers what has a data segment; bss (zero-initialised) has none, so without a
   * `__data_end` symbol this is 'unknown' until the transform's code analysis proves a value.
   */
  dataEndExport: DataEndDerivation;
}

/** What the transform knows about the end of data + bss (`__data_end`). */
export interface DataEndDerivation {
  /** The value, or null when it cannot be derived (then no `__data_end` is exported). */
  value: number | null;
  /** How it was found, or why it is unknown. */
  source: string;
  /** 'exact' when the module says so; 'computed' when derived and proven; 'unknown' otherwise. */
  confidence: 'exact' | 'computed' | 'unknown';
}

/**
 * The `hostalloc` custom section of a converted module (ABI 2): UTF-8 JSON, see docs/abi.md.
 * Written by export-layout from what its caller passes; readers ignore fields they do not know.
 */
export interface HostallocMeta {
  /** ABI version, equal to `__hostalloc_abi`. */
  abi: number;
  /** Alignment (8 or 16) the module's code assumes for malloc results; also `__hostalloc_align`. */
  align: 8 | 16;
  /** Confidence of the exported `__heap_base`. */
  heapBase: HeapBaseDerivation['confidence'];
  /**
   * The exported `__heap_base`'s value: a host that provides the memory (imported memory) needs it
   * before the instance, and its exports, exist.
   */
  heapBaseValue: number;
  /** Confidence of the exported `__data_end` ('unknown': not exported). */
  dataEnd: DataEndDerivation['confidence'];
  /** The import the removed allocator grew memory through (see TransformReport.growImport). */
  growImport?: GrowImport;
}

/** One member of the allocator family as found in the input. */
export interface FamilyMember {
  role: AllocRole;
  /** Function index in the input module (imports counted). */
  index: number;
  /** Name from the name section, if any. */
  name: string | null;
  /** Export names that reach this function. */
  exports: string[];
  identifiedBy: Identification;
  /** For members identified by analysis: the evidence (signature, calls, state touched). */
  evidence?: string;
}

export interface ReplacedFunction extends FamilyMember {
  /** What it became: an import `module.name`, or an adapter over imports. */
  replacement: { kind: 'import'; module: string; name: string } | { kind: 'adapter'; over: string[] };
}

export type HazardKind =
  | 'metadata-read'
  | 'memory-grow'
  | 'allocator-residue'
  | 'shared-memory'
  | 'gc-runtime'
  | 'unidentified-family-member'
  | 'bad-signature'
  | 'metadata-read'
  | 'no-heap-base'
  | 'refused'
  | 'dwarf';

export interface Hazard {
  kind: HazardKind;
  /** Function names (or `$index`) concerned. */
  functions: string[];
  message: string;
  /** The refusal code transform() raises for it (HA0xx), when it refuses. */
  code?: string;
}

/**
 * 'adopted': the module was built against the ABI (it imports host_malloc/host_free and has no
 * allocator of its own); only the marker and the layout exports were added (src/adopt.ts).
 */
export type TransformStatus = 'transformed' | 'adopted' | 'already-compliant';

export interface TransformReport {
  status: TransformStatus;
  inputSize: number;
  outputSize: number;
  functionsBefore: number;
  functionsAfter: number;
  functionsRemoved: number;
  importModule: string;
  replaced: ReplacedFunction[];
  /** Host imports the output module declares, e.g. ['host_malloc', 'host_free', 'host_realloc']. */
  imports: string[];
  layout: Layout;
  hazards: Hazard[];
  warnings: string[];
  /**
   * The output follows the ABI and carries its marker. False only when `force` pushed past a check
   * that failed: the output then has no `__hostalloc_abi` export, and `warnings` say what failed.
   */
  compliant: boolean;
  /**
   * The import the removed allocator called to grow memory (Emscripten's `emscripten_resize_heap`
   * under its possibly minified name, or `emscripten_notify_memory_growth` in STANDALONE builds).
   * A host routes its own growth through it so that the glue refreshes its views. Absent when the
   * allocator grew memory without telling anyone.
   */
  growImport?: GrowImport;
  /** Each step's wall time, in the order run; only with `timings: true`. */
  timings?: StepTiming[];
}

/** One step of the pipeline and how long it took (see PIPELINE in src/transform/pipeline.ts). */
export interface StepTiming {
  step: string;
  ms: number;
}

/** See {@link TransformReport.growImport}. */
export interface GrowImport {
  module: string;
  name: string;
  /**
   * 'resize': `(requestedBytes) -> bool`, grows the memory itself (emscripten_resize_heap);
   * 'notify': `(memoryIndex)`, called after the memory grew (emscripten_notify_memory_growth).
   */
  kind: 'resize' | 'notify';
}

export interface TransformOptions {
  /** Import module of the host functions. Default 'env'. */
  importModule?: string;
  /** Explicit family members: role -> export name or `$functionName` (name section) or `$123` (index). */
  alloc?: Partial<Record<AllocRole, string>>;
  /** Emscripten JS glue source text, to map minified exports back to malloc/free. */
  glue?: string;
  /**
   * Remove the family's exports (malloc, free, …) instead of keeping them as forwarders to the host
   * imports. Default false: callers (JS glue, hosts) keep working. With `glue`, exports the glue
   * references are kept even then.
   */
  dropExports?: boolean;
  /** Accepted for compatibility and ignored: keeping the family's exports is the default. */
  keepExports?: boolean;
  /** Keep DWARF custom sections (stale after the rewrite). Default false. */
  keepDwarf?: boolean;
  /** Go ahead despite missing family members or hazards; each becomes a warning. */
  force?: boolean;
  /** Allow shared (threaded) memories. */
  allowShared?: boolean;
  /** Limits on hostile input (HA032 when exceeded); see DEFAULT_LIMITS. */
  limits?: Limits;
  /** Put each step's wall time in the report (`report.timings`). */
  timings?: boolean;
  /**
   * How the output gate checks the converted module for metadata reads: 'incremental' (default)
   * interprets again only the functions the rewrite touched or that call the family, reusing the
   * input's flow for the rest; 'full' interprets the whole output, as verify does; 'both' runs
   * both and fails with HA040 when they disagree (a self-check, also when forced).
   */
  gate?: 'incremental' | 'full' | 'both';
  /**
   * Who writes the function bodies the transform did not touch: 'splice' (default) copies them
   * from the input with their indices moved, while binaryen writes the rest; 'binaryen' lets
   * binaryen write every body (slower; the output means the same). When a splice cannot be
   * carried out the transform quietly falls back to 'binaryen'; 'splice-strict' throws HA040
   * instead (a self-check for tests).
   */
  emit?: 'splice' | 'splice-strict' | 'binaryen';
  /**
   * What binaryen reads: 'slice' (default) only the bodies the steps look into, the others as
   * `unreachable` (emit splices the input's back); when a step needs a left-out body after all,
   * the transform quietly reads everything and runs again ('slice-strict' throws HA040 instead, a
   * self-check for tests). 'whole' reads every body (slower; the same output). `emit: 'binaryen'`
   * always reads the whole module.
   */
  read?: 'slice' | 'slice-strict' | 'whole';
}

/** Limits on what wasm-hostalloc reads. Defaults: 256 MiB, 1,000,000 functions, 100,000 data segments. */
export interface Limits {
  maxBytes?: number;
  maxFunctions?: number;
  maxDataSegments?: number;
}

export interface TransformResult {
  bytes: Uint8Array;
  report: TransformReport;
}

export interface InspectReport {
  /** Version of this JSON shape. */
  schema: 1;
  size: number;
  layout: Layout;
  family: FamilyMember[];
  /** Functions (names or `$index`) that contain memory.grow. */
  memoryGrowSites: string[];
  imports: { module: string; name: string; kind: 'function' | 'memory' | 'global' | 'table' | 'tag' }[];
  exports: { name: string; kind: 'function' | 'memory' | 'global' | 'table' | 'tag' }[];
  hazards: Hazard[];
  /** True when the module already follows the host-allocator ABI. */
  compliant: boolean;
  /** ABI version from the __hostalloc_abi export, when present. */
  abiVersion: number | null;
}

export interface VerifyProblem {
  code: string;
  message: string;
}

export interface VerifyReport {
  compliant: boolean;
  problems: VerifyProblem[];
  abiVersion: number | null;
  heapBase: number | null;
  /**
   * How sure the exported `__heap_base` is, from the `hostalloc` custom section (ABI 2), else
   * 'exact' for an exported value without the section, null when there is none.
   */
  heapBaseConfidence: HeapBaseDerivation['confidence'] | null;
  /** The module's `hostalloc` custom section, when present and readable. */
  meta: HostallocMeta | null;
}

/** The ABI version this release emits in `__hostalloc_abi`. */
export const ABI_VERSION = 2;

/** The oldest ABI version hosts still accept (version 1 lacks `__hostalloc_grow`). */
export const ABI_MIN_VERSION = 1;
