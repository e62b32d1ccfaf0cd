/**
 * The small-object layer, the kernel's SLUB over the page allocator: size classes from 16 bytes
 * to four pages ({@link io.pagoda.slab.SizeClasses}), slabs of one class each
 * ({@link io.pagoda.slab.SlabClass}, its state in the page descriptors and the free objects
 * themselves), and per-thread magazines in front of them ({@link io.pagoda.slab.Slabs}, under the
 * drain protocol of the per-thread caches).
 *
 * <p>It depends on the region (descriptors and memory) and on the per-thread cache registry of
 * {@code pcp}, and gets its blocks through a {@link io.pagoda.slab.FrameSource}, so it never
 * calls the page allocator's failure path: what to do when memory runs out is decided above it.
 */
package io.pagoda.slab;
