package io.pagoda.pcp;

/**
 * One cache's counters at a moment: racy while threads run, exact at quiescent points.
 *
 * @param name    the owner thread's name, or "shared-N" for a stripe of virtual threads, or
 *                "total" for the sum over all caches, live and retired
 * @param hits    allocations served from the cache
 * @param misses  allocations that found the cache empty (and refilled it, or went below)
 * @param frees   frees that went into the cache
 * @param refills bulk takes from the layer below
 * @param drains  bulk returns to the layer below: over {@code high}, and whole-cache drains
 * @param held    what the cache holds now, in the unit of its layer: frames for page caches,
 *                bytes for object magazines
 */
public record CacheSnapshot(String name, long hits, long misses, long frees, long refills, long drains, long held) {

    static CacheSnapshot zero(String name) {
        return new CacheSnapshot(name, 0, 0, 0, 0, 0, 0);
    }

    /** The same counters under another name. */
    public CacheSnapshot named(String newName) {
        return new CacheSnapshot(newName, hits, misses, frees, refills, drains, held);
    }

    /** The sums of the counters, under this snapshot's name. */
    public CacheSnapshot plus(CacheSnapshot other) {
        return new CacheSnapshot(name, hits + other.hits, misses + other.misses, frees + other.frees, refills + other.refills,
                drains + other.drains, held + other.held);
    }
}
