/**
 * @fileoverview Reachability over a call graph (or any graph given by its successors), shared by
 * the analyses that ask "what does this reach" or "what reaches this".
 */

/** Every node reachable from `from` (included) following `next`. Iterative: deep graphs do not recurse. */
export function closure<T>(from: Iterable<T>, next: (node: T) => Iterable<T>): Set<T> {
  const seen = new Set<T>();
  const stack = [...from];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (seen.has(node)) continue;
    seen.add(node);
    for (const n of next(node)) if (!seen.has(n)) stack.push(n);
  }
  return seen;
}
