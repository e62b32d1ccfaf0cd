package io.pagoda.slab;

import java.util.ArrayList;
import java.util.List;

/**
 * The size classes of small objects, and which slab serves each (the kernel's {@code kmalloc}
 * caches, spaced as jemalloc spaces its bins).
 *
 * <h2>Spacing</h2>
 * <pre>
 * 16, 32, 48, ... 128                      steps of 16 B (8 classes)
 * 144, 160, ... 256 | 288, ... 512 | ...   8 classes per doubling, up to 4 pages
 * </pre>
 * A request is rounded up to the next class: at most 15 bytes are lost below 128 B, and at most
 * one ninth (11.1%) of the object above (a request one byte over a class gets the next, an eighth
 * of a doubling larger). The class of a size is computed, not looked up: a leading-zero count and
 * two shifts ({@link #classOf}).
 *
 * <h2>Slabs</h2>
 * A class is served from slabs of {@code 2^slabOrder} frames, cut into equal objects. The order is
 * the smallest, up to 3 (the per-thread page caches' orders), that wastes at most a sixteenth of
 * the slab and holds at least four objects; failing that, the order that wastes the least. A class
 * whose size is itself a block (4 KiB, 8 KiB, 16 KiB with 4 KiB pages) is no slab class: one object
 * would fill the block, so it is served as a page block of that order ({@link #pageOrder}).
 *
 * <h2>Division</h2>
 * Freeing an address must check that it is an object's start, a division by a size that is not a
 * power of two. Each class keeps {@code magic = ceil(2^64 / size)}, with which Lemire's
 * "faster remainder by direct computation" (2019) gives, for any offset below 2^32, the quotient
 * as {@code unsignedMultiplyHigh(magic, offset)} (the slab's own bookkeeping wants the object's
 * index) and divisibility as {@code magic * offset <= magic - 1} (unsigned): a multiplication each,
 * no divide. A free needs only the second, and that the offset is below the objects' span. Slabs
 * are kept below 2^31 bytes so that every offset in one qualifies.
 */
public final class SizeClasses {

    /** Smallest object, and the step of the first classes: 16 bytes, so objects are 16-byte aligned. */
    public static final int QUANTUM = 16;
    /** Classes per doubling above {@link #LINEAR_LIMIT}. */
    static final int PER_DOUBLING = 8;
    static final int LINEAR_LIMIT = QUANTUM * PER_DOUBLING;
    private static final int LINEAR_CLASSES = LINEAR_LIMIT / QUANTUM;
    /** Largest slab order: the per-thread page caches serve orders 0 to 3. */
    static final int MAX_SLAB_ORDER = 3;
    /** Most classes: the slab word keeps the class + 1 in 8 bits. */
    static final int MAX_CLASSES = 255;

    private final int pageShift;
    private final long[] size;
    private final int[] slabOrder;
    private final int[] objects;
    private final long[] magic;
    private final long largest;

    /**
     * @param pageShift log2 of the frame size
     * @param maxOrder  the allocator's largest order: slabs are no larger
     */
    public SizeClasses(int pageShift, int maxOrder) {
        this.pageShift = pageShift;
        int slabOrderLimit = Math.min(Math.min(MAX_SLAB_ORDER, maxOrder), 30 - pageShift);
        // Up to four pages, and no larger than the largest slab.
        long limit = Math.min(4L << pageShift, 1L << (pageShift + slabOrderLimit));
        List<Long> sizes = new ArrayList<>();
        for (long s = QUANTUM; s <= limit; s = next(s)) {
            sizes.add(s);
        }
        int classes = sizes.size();
        if (classes > MAX_CLASSES) {
            throw new IllegalArgumentException(classes + " size classes for pages of 2^" + pageShift
                    + " bytes: at most " + MAX_CLASSES);
        }
        this.size = new long[classes];
        this.slabOrder = new int[classes];
        this.objects = new int[classes];
        this.magic = new long[classes];
        for (int c = 0; c < classes; c++) {
            long s = sizes.get(c);
            size[c] = s;
            magic[c] = Long.divideUnsigned(-1L, s) + 1; // ceil(2^64 / s) for s > 1
            boolean isBlock = s >= (1L << pageShift) && Long.bitCount(s) == 1;
            slabOrder[c] = isBlock ? -1 : chooseSlabOrder(s, slabOrderLimit);
            objects[c] = isBlock ? 0 : (int) (slabBytes(c) / s);
        }
        this.largest = size[classes - 1];
    }

    /** The class after {@code s}: 16 B steps up to 128, then 8 per doubling. */
    private static long next(long s) {
        if (s < LINEAR_LIMIT) {
            return s + QUANTUM;
        }
        int m = 63 - Long.numberOfLeadingZeros(s); // 2^m <= s < 2^(m+1): steps of 2^m / 8
        return s + (1L << (m - 3));
    }

    /** The kernel's {@code calculate_order}, simplified: see the class comment. */
    private int chooseSlabOrder(long objectSize, int limit) {
        int best = -1;
        double bestWaste = 2;
        for (int order = 0; order <= limit; order++) {
            long bytes = 1L << (pageShift + order);
            long count = bytes / objectSize;
            if (count == 0) {
                continue;
            }
            long waste = bytes - count * objectSize;
            if (waste * 16 <= bytes && count >= 4) {
                return order;
            }
            double fraction = (double) waste / bytes;
            if (fraction < bestWaste) {
                best = order;
                bestWaste = fraction;
            }
        }
        if (best < 0) {
            throw new IllegalArgumentException("no slab order up to " + limit + " holds objects of " + objectSize + " bytes");
        }
        return best;
    }

    /** Number of classes. */
    public int count() {
        return size.length;
    }

    /** The largest class's size: larger requests are page blocks. */
    public long largest() {
        return largest;
    }

    /**
     * The class of the smallest objects that hold {@code bytes}, for {@code 0 < bytes <= largest()}:
     * jemalloc's {@code sz_size2index_compute}.
     */
    public static int classOf(long bytes) {
        if (bytes <= LINEAR_LIMIT) {
            return (int) ((bytes + QUANTUM - 1) >>> 4) - 1;
        }
        long s = bytes - 1;
        int k = 63 - Long.numberOfLeadingZeros(s); // 2^k <= s < 2^(k+1), k >= 7
        int step = k - 3;                          // 8 classes per doubling: steps of 2^(k-3)
        return LINEAR_CLASSES + (k - 7) * PER_DOUBLING + (int) ((s >>> step) & (PER_DOUBLING - 1));
    }

    /** Object size of a class. */
    public long size(int sizeClass) {
        return size[sizeClass];
    }

    /** Whether the class is served from slabs; otherwise it is a page block ({@link #pageOrder}). */
    public boolean isSlab(int sizeClass) {
        return slabOrder[sizeClass] >= 0;
    }

    /** The block order of a class that is no slab class: its size is {@code pageSize << order}. */
    public int pageOrder(int sizeClass) {
        return Long.numberOfTrailingZeros(size[sizeClass]) - pageShift;
    }

    /** Order of the blocks a slab class cuts into objects. */
    public int slabOrder(int sizeClass) {
        return slabOrder[sizeClass];
    }

    /** Bytes of one slab of a slab class. */
    public long slabBytes(int sizeClass) {
        return 1L << (pageShift + slabOrder[sizeClass]);
    }

    /** Objects in one slab of a slab class. */
    public int objects(int sizeClass) {
        return objects[sizeClass];
    }

    /** {@code ceil(2^64 / size)}: see the class comment. */
    long magic(int sizeClass) {
        return magic[sizeClass];
    }
}
