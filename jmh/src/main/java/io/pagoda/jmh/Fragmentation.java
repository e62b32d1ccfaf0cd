package io.pagoda.jmh;

import io.pagoda.Lifetime;
import io.pagoda.OutOfPagesException;
import io.pagoda.PageAllocator;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * What grouping by lifetime buys against fragmentation: the share of free memory still usable
 * for 2 MiB (order-9) blocks after a server's short-lived buffers are gone, with grouping on and
 * off. Not a JMH benchmark: a main, since what it measures is the state memory is left in.
 *
 * <p>The workload, on a 1 GiB allocator: short-lived buffers of 64 B to 64 KiB (spread evenly
 * over their logarithm, through {@code allocate(bytes)}: slab objects and blocks) interleaved with
 * long-lived memory, one byte in eight: records of 16 to 256 B in a shared arena, and tables of
 * 4 to 64 KiB ({@code allocatePages(order, LONG_LIVED)}). Memory is filled to 90%, then five
 * times over a random half of the short-lived buffers is freed and refilled; then every
 * short-lived buffer is freed. It reports how many order-9 blocks can then be allocated, against
 * free frames / 512 (what a perfectly compact memory would give), and the unusable free space
 * index of order 9 (the share of free memory in blocks too small for it).
 *
 * {@snippet lang=sh :
 * java --enable-native-access=ALL-UNNAMED -cp jmh/target/benchmarks.jar io.pagoda.jmh.Fragmentation
 * }
 */
public final class Fragmentation {

    private static final long CAPACITY = 1L << 30;
    private static final int ROUNDS = 5;
    private static final int ORDER = 9;

    private Fragmentation() {
    }

    public static void main(String[] args) {
        System.out.println("| grouping by lifetime | order-9 blocks allocated | possible (free / 512) | success | unusable index (9) |");
        System.out.println("|---|---:|---:|---:|---:|");
        for (boolean grouped : new boolean[] {true, false}) {
            run(grouped);
        }
    }

    private static void run(boolean grouped) {
        try (PageAllocator pages = PageAllocator.builder().capacity(CAPACITY).groupByLifetime(grouped).build()) {
            SplittableRandom random = new SplittableRandom(42);
            Arena records = pages.newSharedArena();
            List<MemorySegment> shortLived = new ArrayList<>();
            fill(pages, random, records, shortLived);
            for (int round = 0; round < ROUNDS; round++) {
                for (int i = shortLived.size() - 1; i >= 0; i--) {
                    if (random.nextBoolean()) {
                        pages.free(swapRemove(shortLived, i));
                    }
                }
                fill(pages, random, records, shortLived);
            }
            shortLived.forEach(pages::free);
            pages.trim();
            long possible = pages.freeBytes() / pages.blockSize(ORDER);
            double unusable = pages.unusableIndex(ORDER);
            int allocated = 0;
            try {
                while (true) {
                    pages.allocatePages(ORDER);
                    allocated++;
                }
            } catch (OutOfPagesException exhausted) {
                // as many as there were
            }
            System.out.printf("| %s | %d | %d | %.1f%% | %.3f |%n", grouped ? "on" : "off", allocated, possible,
                    100.0 * allocated / possible, unusable);
            records.close();
        }
    }

    /** Allocates until 90% of the region is in use, one byte in eight long-lived. */
    private static void fill(PageAllocator pages, SplittableRandom random, Arena records, List<MemorySegment> shortLived) {
        while (pages.freeBytes() > CAPACITY / 10) {
            if (random.nextInt(8) == 0) {
                if (random.nextBoolean()) {
                    records.allocate(16 + random.nextInt(241));
                } else {
                    pages.allocatePages(random.nextInt(5), Lifetime.LONG_LIVED); // tables: never freed here
                }
            } else {
                shortLived.add(pages.allocate((long) Math.pow(2, 6 + random.nextDouble() * 10)));
            }
        }
    }

    private static MemorySegment swapRemove(List<MemorySegment> list, int index) {
        MemorySegment removed = list.get(index);
        list.set(index, list.get(list.size() - 1));
        list.remove(list.size() - 1);
        return removed;
    }
}
