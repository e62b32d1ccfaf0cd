package io.pagoda;

/**
 * The counters of a per-thread page cache, or their sum over all caches. Read while threads run,
 * they may lag by the operations in flight; at a quiescent point they are exact, and
 * {@code freeBytes() + cachedBytes() + allocatedBytes() == capacity()} holds.
 *
 * @param name        the owner thread's name, "shared-N" for a stripe shared by virtual threads,
 *                    or "total"
 * @param hits        allocations served from the cache without touching the zone
 * @param misses      allocations that found the cache empty
 * @param frees       frees that went into the cache (from its own thread, whoever allocated the block)
 * @param refills     bulk refills from the zone (one zone-lock acquisition each)
 * @param drains      bulk returns to the zone: above the cache's high mark, or whole-cache drains
 * @param cachedBytes bytes in the blocks the cache holds now
 */
public record CacheStatistics(String name, long hits, long misses, long frees, long refills, long drains, long cachedBytes) {
}
