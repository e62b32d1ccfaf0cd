package io.pagoda.jmh;

import io.pagoda.PageAllocator;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Transparent huge pages on the region, on against off: random reads over a large live set of
 * 16 KiB blocks, the access pattern of a hash table or a cache whose working set is far larger
 * than the TLB covers with 4 KiB pages. Not a JMH benchmark: a main, run once per setting in a
 * JVM of its own, since what differs is how the process's memory is mapped.
 *
 * <p>It allocates 2 GiB of 16 KiB blocks and writes them, then times 20 million dependent random
 * reads (each read's address depends on the last value read, so that the CPU cannot overlap the
 * misses), three times, and prints the best time per read and the AnonHugePages of the process
 * (from /proc/self/smaps_rollup).
 *
 * {@snippet lang=sh :
 * for setting in on off; do
 *   java --enable-native-access=ALL-UNNAMED -cp jmh/target/benchmarks.jar io.pagoda.jmh.HugePages $setting
 * done
 * }
 */
public final class HugePages {

    private static final long LIVE_BYTES = 2L << 30;
    private static final int BLOCK_ORDER = 2;
    private static final int READS = 20_000_000;

    private HugePages() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 1 || !(args[0].equals("on") || args[0].equals("off"))) {
            throw new IllegalArgumentException("usage: HugePages on|off");
        }
        boolean huge = args[0].equals("on");
        try (PageAllocator pages = PageAllocator.builder().capacity(2 * LIVE_BYTES).hugePages(huge).build()) {
            long blockBytes = pages.blockSize(BLOCK_ORDER);
            long[] blocks = new long[(int) (LIVE_BYTES / blockBytes)];
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = pages.allocatePages(BLOCK_ORDER);
            }
            // Every long holds a pseudo-random number: the next read's index comes from it.
            long seed = 42;
            for (long block : blocks) {
                MemorySegment memory = MemorySegment.ofAddress(block).reinterpret(blockBytes);
                for (long offset = 0; offset < blockBytes; offset += 8) {
                    seed = seed * 6364136223846793005L + 1442695040888963407L;
                    memory.set(JAVA_LONG, offset, seed);
                }
            }
            MemorySegment all = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
            long best = Long.MAX_VALUE;
            long sink = 0;
            for (int run = 0; run < 3; run++) {
                long value = run;
                long start = System.nanoTime();
                for (int i = 0; i < READS; i++) {
                    int block = (int) ((value >>> 33) % blocks.length);
                    long offset = (value & (blockBytes - 1)) & ~7L;
                    value = all.get(JAVA_LONG, blocks[block] + offset) ^ i;
                }
                best = Math.min(best, System.nanoTime() - start);
                sink += value;
            }
            System.out.printf("huge pages %s: %.1f ns per dependent random read over %d MiB; AnonHugePages %s (%d)%n",
                    args[0], (double) best / READS, LIVE_BYTES >> 20, anonHugePages(), sink & 1);
        }
    }

    private static String anonHugePages() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/smaps_rollup"))) {
            if (line.startsWith("AnonHugePages:")) {
                return line.substring("AnonHugePages:".length()).strip();
            }
        }
        return "unknown";
    }
}
