/**
 * The "hardware" layer: the reserved region that plays physical memory, and the page-descriptor
 * table that plays the kernel's {@code struct page} array.
 *
 * <p>This layer owns the only native calls in Pagoda ({@link io.pagoda.region.NativeMemory}) and
 * knows nothing of free lists or policies. It keeps two invariants: a frame's address is
 * {@code base + (pfn << pageShift)}, and the descriptor table has exactly one 32-byte slot per
 * frame, zero-filled until first written (so an untouched frame reads as a tail frame). It takes no
 * locks; the layers above decide who may write a descriptor, and when.
 */
package io.pagoda.region;
