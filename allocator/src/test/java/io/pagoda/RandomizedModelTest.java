package io.pagoda;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Long random sequences of allocations and frees against a reference model, with the invariants of
 * DESIGN.md checked after every step, and every block filled with a pattern that must survive until
 * it is freed (so an overlap between two live blocks cannot go unseen).
 *
 * <p>The model is the simplest allocator that could be right: a sorted map of live blocks, plus the
 * rule that a request fails only when no free run of 2^order aligned frames exists. Each run prints
 * nothing unless it fails; a failure names its seed. Replay one with {@code -Dpagoda.seed=N}, and
 * run longer with {@code -Dpagoda.model.steps=N}.
 */
class RandomizedModelTest {

    private static final int PAGE = 4096;
    private static final int STEPS = Integer.getInteger("pagoda.model.steps", 4_000);

    static Stream<Arguments> configurations() {
        Long fixed = Long.getLong("pagoda.seed");
        long base = fixed != null ? fixed : System.nanoTime();
        // frames, maxOrder: a few max blocks; a tail that is not a multiple of the max block; order 0 only
        int[][] shapes = {{4 * 64, 6}, {3 * 64 + 37, 6}, {1024, 10}, {2048 + 515, 10}, {64, 0}};
        List<Arguments> runs = new ArrayList<>();
        for (int cachedOrders : new int[] {0, 4}) {
            for (int i = 0; i < shapes.length; i++) {
                runs.add(Arguments.of(base + runs.size(), shapes[i][0], shapes[i][1], cachedOrders));
            }
        }
        return runs.stream();
    }

    @ParameterizedTest(name = "seed {0}: {1} frames, max order {2}, {3} cached orders")
    @MethodSource("configurations")
    void shouldKeepEveryInvariantThroughRandomAllocationsAndFrees(long seed, int frames, int maxOrder, int cachedOrders) {
        try {
            run(seed, frames, maxOrder, cachedOrders);
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError("failed with seed " + seed + " (replay: -Dpagoda.seed=" + seed
                    + " -Dtest=RandomizedModelTest): " + e.getMessage(), e);
        }
    }

    private static void run(long seed, int frames, int maxOrder, int cachedOrders) {
        SplittableRandom random = new SplittableRandom(seed);
        try (PageAllocator pages = PageAllocator.builder().capacity((long) frames * PAGE).maxOrder(maxOrder)
                .cachedOrders(cachedOrders).cacheBatch(1 + random.nextInt(8)).cacheHigh(8 + random.nextInt(8)).minFreeBytes(0).build()) {
            Map<Long, Integer> held = new HashMap<>();
            Map<Long, MemorySegment> segments = new HashMap<>();
            List<Long> addresses = new ArrayList<>();
            for (int step = 0; step < STEPS; step++) {
                boolean allocate = addresses.isEmpty() || random.nextInt(100) < 55;
                if (random.nextInt(500) == 0) {
                    pages.trim();
                } else if (allocate) {
                    int order = random.nextInt(maxOrder + 1);
                    boolean fits = modelHasRoomFor(held, pages.region().base(), frames, order);
                    if (fits) {
                        long address;
                        MemorySegment segment;
                        if (random.nextBoolean()) {
                            address = pages.allocatePages(order);
                            segment = pages.region().memory().asSlice(address - pages.region().base(), pages.blockSize(order));
                        } else {
                            // Up to four pages a size that is not a whole block is a slab object: keep to blocks.
                            long size = order <= 2 ? pages.blockSize(order) : pages.blockSize(order) - random.nextInt(PAGE);
                            segment = pages.allocate(size);
                            address = segment.address();
                        }
                        assertEquals(null, held.put(address, order), "block handed out twice");
                        fill(segment, address);
                        segments.put(address, segment);
                        addresses.add(address);
                    } else {
                        assertThrows(OutOfPagesException.class, () -> pages.allocatePages(order),
                                "the model has no aligned free run of order " + order);
                    }
                } else {
                    long address = addresses.remove(random.nextInt(addresses.size()));
                    MemorySegment segment = segments.remove(address);
                    verify(segment, address);
                    int order = held.remove(address);
                    if (random.nextBoolean()) {
                        pages.freePages(address, order);
                    } else {
                        pages.free(segment);
                    }
                }
                InvariantChecker.check(pages, held);
            }
            for (long address : addresses) {
                verify(segments.get(address), address);
                pages.freePages(address, held.remove(address));
            }
            InvariantChecker.check(pages, held);
            pages.trim();
            InvariantChecker.check(pages, held);
            assertEquals((long) frames * PAGE, pages.freeBytes(), "every frame free after trim");
        }
    }

    static Stream<Arguments> mixedConfigurations() {
        Long fixed = Long.getLong("pagoda.seed");
        long base = fixed != null ? fixed : System.nanoTime();
        return Stream.of(Arguments.of(base, 0), Arguments.of(base + 1, 4), Arguments.of(base + 2, 4));
    }

    /**
     * Sizes from 1 byte to twice the largest block, spread evenly over their logarithm, through
     * the one allocate/free call (and its aligned form): slab objects, blocks and mappings mixed.
     * Every live allocation holds a pattern; the invariants, slabs and magazines included, are
     * checked every few steps; a failure for lack of memory must leave the allocator consistent
     * and serving again once memory is freed.
     */
    @ParameterizedTest(name = "seed {0}: mixed sizes, {1} cached orders")
    @MethodSource("mixedConfigurations")
    void shouldKeepEveryInvariantThroughRandomMixedSizes(long seed, int cachedOrders) {
        try {
            runMixed(seed, cachedOrders);
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError("failed with seed " + seed + " (replay: -Dpagoda.seed=" + seed
                    + " -Dtest=RandomizedModelTest): " + e.getMessage(), e);
        }
    }

    private static void runMixed(long seed, int cachedOrders) {
        SplittableRandom random = new SplittableRandom(seed);
        try (PageAllocator pages = PageAllocator.builder().capacity(32L << 20).cachedOrders(cachedOrders)
                .cacheBatch(1 + random.nextInt(16)).minFreeBytes(0).build()) {
            Map<Long, MemorySegment> live = new HashMap<>();
            List<Long> addresses = new ArrayList<>();
            for (int step = 0; step < STEPS; step++) {
                if (random.nextInt(300) == 0) {
                    pages.trim();
                } else if (addresses.isEmpty() || random.nextInt(100) < 52) {
                    long size = (long) Math.pow(2, random.nextDouble() * 24); // 1 B to 16 MiB
                    long alignment = random.nextInt(8) == 0 ? 1L << random.nextInt(13) : 1;
                    MemorySegment segment;
                    try {
                        segment = alignment == 1 ? pages.allocate(size) : pages.allocate(size, alignment);
                    } catch (OutOfPagesException full) {
                        InvariantChecker.checkHolding(pages, live.keySet());
                        continue;
                    }
                    assertEquals(0, segment.address() % alignment, size + " bytes aligned to " + alignment);
                    assertEquals(null, live.put(segment.address(), segment), "handed out twice");
                    addresses.add(segment.address());
                    fill(segment, segment.address());
                } else {
                    long address = addresses.remove(random.nextInt(addresses.size()));
                    MemorySegment segment = live.remove(address);
                    verify(segment, address);
                    pages.free(segment);
                }
                if (step % 50 == 0) {
                    InvariantChecker.checkHolding(pages, live.keySet());
                }
            }
            for (long address : addresses) {
                verify(live.get(address), address);
                pages.free(live.get(address));
            }
            pages.trim();
            InvariantChecker.checkHolding(pages, List.of());
            assertEquals(pages.capacity(), pages.freeBytes(), "every frame free after trim");
            MemorySegment whole = pages.allocate(pages.capacity() / 8); // the largest block: serving again
            pages.free(whole);
        }
    }

    /** Whether some 2^order-aligned run of 2^order frames inside [0, frames) overlaps no held block. */
    private static boolean modelHasRoomFor(Map<Long, Integer> held, long base, int frames, int order) {
        boolean[] used = new boolean[frames];
        for (Map.Entry<Long, Integer> block : held.entrySet()) {
            int pfn = (int) ((block.getKey() - base) / PAGE);
            for (int i = 0; i < 1 << block.getValue(); i++) {
                used[pfn + i] = true;
            }
        }
        int size = 1 << order;
        for (int start = 0; start + size <= frames; start += size) {
            boolean free = true;
            for (int i = start; i < start + size && free; i++) {
                free = !used[i];
            }
            if (free) {
                return true;
            }
        }
        return false;
    }

    private static void fill(MemorySegment segment, long address) {
        long pattern = address * 0x9E3779B97F4A7C15L;
        for (long offset = 0; offset + 8 <= segment.byteSize(); offset += 8) {
            segment.set(ValueLayout.JAVA_LONG_UNALIGNED, offset, pattern ^ offset);
        }
    }

    private static void verify(MemorySegment segment, long address) {
        long pattern = address * 0x9E3779B97F4A7C15L;
        for (long offset = 0; offset + 8 <= segment.byteSize(); offset += 8) {
            long found = segment.get(ValueLayout.JAVA_LONG_UNALIGNED, offset);
            if (found != (pattern ^ offset)) {
                throw new AssertionError("block at 0x" + Long.toHexString(address) + " was overwritten at offset " + offset);
            }
        }
    }
}
