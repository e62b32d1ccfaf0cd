package io.pagoda.slab;

/**
 * The free objects one per-thread cache holds: for each slab class, a stack of object offsets
 * (Bonwick's magazines). The top is the most recently freed object, still warm in the CPU caches,
 * and is handed out first; the bottom holds the coldest, which go back to their slabs first.
 *
 * <pre>
 * slots: | class 0: bottom .. top, free | class 1: ...      | ... |
 *        ^ start[0]                     ^ start[1]
 * </pre>
 * One array for all classes, each class's stack at {@code start[c]} with room for {@code high[c] + 1}.
 *
 * <p>Not thread-safe: exactly one thread at a time holds the magazines, as for the page caches'
 * {@code CacheStacks}. {@link #scratch} belongs to the owner alone (or the holder of a shared
 * stripe's lock), even outside an operation: a drainer never touches it.
 */
final class Magazines {

    /** Returned by {@link #pop} when the class's stack is empty. Offsets are never negative. */
    static final long EMPTY = -1;

    private final long[] slots;
    private final int[] start;
    private final int[] counts;
    private final int[] high;
    /** Room for a batch moved to or from the slabs, as long as the largest batch. */
    final long[] scratch;

    long hits;
    long misses;
    /** Frees pushed on these magazines, by their owner (or a stripe's holder). */
    long frees;
    long refills;
    long drains;

    Magazines(int[] high, int largestBatch) {
        this.high = high.clone();
        this.start = new int[high.length];
        int total = 0;
        for (int c = 0; c < high.length; c++) {
            start[c] = total;
            total += high[c] + 1;
        }
        this.slots = new long[total];
        this.counts = new int[high.length];
        this.scratch = new long[largestBatch];
    }

    /** The most recently pushed object of this class, or {@link #EMPTY}. */
    long pop(int sizeClass) {
        int count = counts[sizeClass] - 1;
        if (count < 0) {
            return EMPTY;
        }
        counts[sizeClass] = count;
        return slots[start[sizeClass] + count];
    }

    /** Pushes an object; the caller keeps the count at most {@code high + 1} by draining. */
    void push(int sizeClass, long offset) {
        int count = counts[sizeClass];
        slots[start[sizeClass] + count] = offset;
        counts[sizeClass] = count + 1;
    }

    /** Pushes an object; true if the stack is now above its high mark and must give a batch back. */
    boolean pushAboveHigh(int sizeClass, long offset) {
        int count = counts[sizeClass];
        slots[start[sizeClass] + count] = offset;
        counts[sizeClass] = ++count;
        return count > high[sizeClass];
    }

    /** Removes the {@code n} oldest objects of a class into {@code into[0 .. n)}, n at most the count. */
    void takeOldest(int sizeClass, int n, long[] into) {
        int bottom = start[sizeClass];
        int left = counts[sizeClass] - n;
        System.arraycopy(slots, bottom, into, 0, n);
        System.arraycopy(slots, bottom + n, slots, bottom, left);
        counts[sizeClass] = left;
    }

    int count(int sizeClass) {
        return counts[sizeClass];
    }

    int classes() {
        return counts.length;
    }

    /** Bytes in the objects held: computed, not counted, to keep the fast path to its stores. */
    long bytesHeld(SizeClasses classes) {
        long bytes = 0;
        for (int c = 0; c < counts.length; c++) {
            bytes += counts[c] * classes.size(c);
        }
        return bytes;
    }

    /** Calls the visitor for every object held, oldest first. */
    void forEach(ObjectVisitor visitor) {
        for (int c = 0; c < counts.length; c++) {
            for (int i = 0; i < counts[c]; i++) {
                visitor.visit(slots[start[c] + i], c);
            }
        }
    }
}
