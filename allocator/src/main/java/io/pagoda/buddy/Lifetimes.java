package io.pagoda.buddy;

/**
 * The lifetime types, the kernel's migrate types, as the buddy core numbers them: the index of a
 * free list, the type of a pageblock, a field of a head's info word.
 *
 * <p>Blocks that live and die alike are kept together in pageblocks of their own, so that when
 * the short-lived ones come back they merge into large blocks again, instead of being pinned
 * apart by a long-lived block between them. A type that runs dry takes memory from the others in
 * a fixed order ({@link #fallbacks}), as the kernel's {@code fallbacks[]} table says.
 */
public final class Lifetimes {

    /** Buffers that come back soon (I/O buffers, per-thread caches): the kernel's MOVABLE. */
    public static final int SHORT_LIVED = 0;
    /** Memory kept for long (arenas, tables, slabs): the kernel's UNMOVABLE. */
    public static final int LONG_LIVED = 1;
    /** Memory a shrinker can free on demand (caches): the kernel's RECLAIMABLE. */
    public static final int RECLAIMABLE = 2;
    /**
     * Pageblocks kept for critical allocations, the kernel's HIGHATOMIC: a critical allocation
     * is of this type. No other type falls back on it, and a zone gives its reserve back before
     * an ordinary allocation fails (see {@link Zone}).
     */
    public static final int RESERVE = 3;
    /** Number of lifetime types: the free lists of a zone are indexed by [0, COUNT). */
    public static final int COUNT = 4;

    private static final String[] NAMES = {"ShortLived", "LongLived", "Reclaimable", "Reserve"};

    // Each type falls back first on the type least harmed by sharing with it: short-lived memory
    // returns soon, so reclaimable pageblocks (which a shrinker can empty) are the first choice of
    // every type but reclaimable's own, whose neighbours are the long-lived.
    private static final int[][] FALLBACKS = {
            {RECLAIMABLE, LONG_LIVED},   // SHORT_LIVED
            {RECLAIMABLE, SHORT_LIVED},  // LONG_LIVED
            {LONG_LIVED, SHORT_LIVED},   // RECLAIMABLE
            {},                          // RESERVE: the zone serves it its own way
    };

    private Lifetimes() {
    }

    /** The types {@code lifetime} takes memory from when its own lists are empty, in order. */
    static int[] fallbacks(int lifetime) {
        return FALLBACKS[lifetime];
    }

    /** The name reports print, as /proc/pagetypeinfo prints "Movable" or "Unmovable". */
    public static String name(int lifetime) {
        return NAMES[lifetime];
    }
}
