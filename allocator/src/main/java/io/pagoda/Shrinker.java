package io.pagoda;

/**
 * A cache that can give memory back to the allocator when it runs low (the kernel's shrinker,
 * with its {@code count_objects} and {@code scan_objects}). Register it with
 * {@link PageAllocator#registerShrinker}; the allocator asks it when a zone falls below its low
 * watermark (from a background thread) or, when that was not enough, from a thread whose
 * allocation would otherwise fail.
 *
 * {@snippet lang=java :
 * final class BlockCache implements Shrinker {
 *     private final ConcurrentLinkedDeque<MemorySegment> idle = new ConcurrentLinkedDeque<>();
 *
 *     public long freeableBytes() {
 *         return idle.size() * BLOCK_BYTES;
 *     }
 *
 *     public long shrink(long bytes) {
 *         long freed = 0;
 *         MemorySegment block;
 *         while (freed < bytes && (block = idle.pollLast()) != null) {
 *             pages.free(block);
 *             freed += BLOCK_BYTES;
 *         }
 *         return freed;
 *     }
 * }
 * pages.registerShrinker(new BlockCache());
 * }
 *
 * <p>Both methods may be called from any thread, concurrently with the cache's own use, so they
 * must be thread-safe; they should be quick, and must not wait for another thread that may be
 * waiting for memory. Memory they allocate while shrinking may come from below the min
 * watermark and never starts another reclaim. An exception they throw is logged (logger
 * {@code io.pagoda}) and counted, and the allocator goes on without them.
 */
public interface Shrinker {

    /** Bytes this cache could free now, if asked; an estimate is fine. */
    long freeableBytes();

    /**
     * Frees up to {@code bytes} (through the allocator's own free calls) and answers how many
     * bytes were freed: less when there was less to free, a little more when freeing goes by
     * whole entries.
     */
    long shrink(long bytes);
}
