package io.pagoda.pcp;

/**
 * One cache's counters at a moment: racy while threads run, exact at quiescent points.
 *
 * @param name       the owner thread's name, or "shared-N" for a stripe of virtual threads, or
 *                   "total" for the sum over all caches, live and retired
 * @param hits       allocations served from the cache
 * @param misses     allocations that found the cache empty (and refilled it, or went to the zone)
 * @param refills    bulk takes from the zone
 * @param drains     bulk returns to the zone: over {@code high}, and whole-cache drains
 * @param framesHeld frames in blocks the cache holds now
 */
public record CacheSnapshot(String name, long hits, long misses, long refills, long drains, long framesHeld) {

    static CacheSnapshot of(String name, CacheStacks stacks) {
        return new CacheSnapshot(name, stacks.hits, stacks.misses, stacks.refills, stacks.drains, stacks.framesHeld());
    }

    CacheSnapshot plus(CacheSnapshot other) {
        return new CacheSnapshot(name, hits + other.hits, misses + other.misses, refills + other.refills,
                drains + other.drains, framesHeld + other.framesHeld);
    }
}
