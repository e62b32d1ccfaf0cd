package io.pagoda.examples;

import io.pagoda.PageAllocator;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * A mixed workload (the first main example): reserves a 64 GiB allocator (address space, not memory), runs a short mixed
 * workload on every core (I/O-buffer-like sizes of a few bytes to 1 MiB through the one
 * allocate/free call: slab objects, blocks from the per-thread caches and from the zone; held for a
 * while and freed in random order, each written to), and prints what happened: the reservation's
 * cost, /proc/buddyinfo before, during and after, pagetypeinfo and zoneinfo at the end, and the
 * throughput.
 *
 * <p>Arguments: {@code [seconds]} (default 3).
 */
public final class MixedWorkload {

    private static final long CAPACITY = 64L << 30;
    private static final int LIVE_BLOCKS_PER_THREAD = 512;

    private MixedWorkload() {
    }

    public static void main(String[] args) throws Exception {
        double seconds = args.length > 0 && !args[0].isBlank() ? Double.parseDouble(args[0]) : 3.0;
        int threads = Runtime.getRuntime().availableProcessors();

        long rssBefore = residentBytes();
        long start = System.nanoTime();
        try (PageAllocator pages = PageAllocator.builder().capacity(CAPACITY).build()) {
            long reserveNanos = System.nanoTime() - start;
            System.out.printf("Reserved %d GiB (%s) in %.2f ms; resident memory grew by %d KiB%n",
                    CAPACITY >> 30, pages.backing(), reserveNanos / 1e6, (residentBytes() - rssBefore) >> 10);
            System.out.println();
            System.out.println("buddyinfo, new allocator (untouched memory counts as order-10 blocks):");
            System.out.print(pages.buddyinfo());

            Worker[] workers = new Worker[threads];
            Thread[] running = new Thread[threads];
            long deadline = System.nanoTime() + (long) (seconds * 1e9);
            for (int i = 0; i < threads; i++) {
                workers[i] = new Worker(pages, 42 + i, deadline);
                running[i] = Thread.ofPlatform().name("worker-" + i).start(workers[i]);
            }
            Thread.sleep((long) (seconds * 500));
            System.out.println();
            System.out.println("buddyinfo, mid-run (" + threads + " threads, up to "
                    + LIVE_BLOCKS_PER_THREAD + " live blocks each):");
            System.out.print(pages.buddyinfo());
            long operations = 0;
            long bytes = 0;
            for (int i = 0; i < threads; i++) {
                running[i].join();
                operations += workers[i].operations;
                bytes += workers[i].bytes;
            }
            System.out.println();
            System.out.println("buddyinfo, after every block was freed (the per-thread caches and slabs still hold some):");
            System.out.print(pages.buddyinfo());
            pages.trim();
            System.out.println();
            System.out.println("buddyinfo, after trim() (caches and empty slabs given back, merged into order-10 blocks):");
            System.out.print(pages.buddyinfo());
            System.out.println();
            System.out.println("pagetypeinfo (free blocks and pageblocks per lifetime):");
            System.out.print(pages.pagetypeinfo());
            System.out.println();
            System.out.println("zoneinfo (watermarks and counters):");
            System.out.print(pages.zoneinfo());
            System.out.println();
            System.out.printf("%d threads, %.1f s: %,d allocate+free pairs (%.2f M pairs/s), %,d MiB handed out%n",
                    threads, seconds, operations, operations / seconds / 1e6, bytes >> 20);
            System.out.printf("free %d GiB of %d GiB, allocated %d bytes; resident memory now %d MiB%n",
                    pages.freeBytes() >> 30, pages.capacity() >> 30, pages.allocatedBytes(), residentBytes() >> 20);
        }
    }

    /** Allocates blocks of random sizes, keeps a window of them live, frees them in random order. */
    private static final class Worker implements Runnable {
        private final PageAllocator pages;
        private final SplittableRandom random;
        private final long deadline;
        long operations;
        long bytes;

        Worker(PageAllocator pages, long seed, long deadline) {
            this.pages = pages;
            this.random = new SplittableRandom(seed);
            this.deadline = deadline;
        }

        @Override
        public void run() {
            MemorySegment[] live = new MemorySegment[LIVE_BLOCKS_PER_THREAD];
            while (System.nanoTime() < deadline) {
                for (int i = 0; i < 1024; i++) {
                    int slot = random.nextInt(live.length);
                    if (live[slot] != null) {
                        MemorySegment old = live[slot];
                        if (old.get(ValueLayout.JAVA_LONG, 0) != old.address()) {
                            throw new AssertionError("block at " + old.address() + " was overwritten");
                        }
                        pages.free(old);
                        operations++;
                    }
                    MemorySegment block = pages.allocate(randomSize());
                    block.set(ValueLayout.JAVA_LONG, 0, block.address());
                    bytes += block.byteSize();
                    live[slot] = block;
                }
            }
            for (MemorySegment block : live) {
                if (block != null) {
                    pages.free(block);
                }
            }
        }

        /** Mostly small I/O buffers (a few bytes to 32 KiB), sometimes up to 1 MiB. */
        private long randomSize() {
            int order = random.nextInt(8) == 0 ? 3 + random.nextInt(6) : random.nextInt(4);
            return (4096L << order) - random.nextInt(4096 - Long.BYTES);
        }
    }

    private static long residentBytes() throws IOException {
        Path statm = Path.of("/proc/self/statm");
        if (!Files.exists(statm)) {
            return 0;
        }
        String[] fields = Files.readString(statm).trim().split("\\s+");
        return Long.parseLong(fields[1]) * 4096;
    }
}
