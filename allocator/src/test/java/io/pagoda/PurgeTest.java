package io.pagoda;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Memory back to the operating system: large blocks that stay free past the decay are handed
 * back with madvise, and resident memory, read from /proc/self/statm, falls.
 */
class PurgeTest {

    private static final long MIB = 1L << 20;
    private static final int BLOCKS = 32;      // of 2 MiB: 64 MiB touched
    private static final int ORDER = 9;

    private PageAllocator pages;

    private PageAllocator allocator(Duration decay) {
        // A short idle timeout makes the reaper, which runs the purge passes, check every 10 ms.
        pages = PageAllocator.builder().capacity(256 * MIB).cacheIdleTimeout(Duration.ofMillis(40))
                .purgeDecay(decay).debug(false).build();
        return pages;
    }

    @AfterEach
    void close() {
        if (pages != null) {
            pages.close();
        }
    }

    private static long residentBytes() {
        try {
            String[] statm = Files.readString(Path.of("/proc/self/statm")).trim().split("\\s+");
            return Long.parseLong(statm[1]) * 4096;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Allocates the blocks and writes every page of them, so that they are resident. */
    private List<Long> touchBlocks() {
        List<Long> blocks = new ArrayList<>();
        for (int i = 0; i < BLOCKS; i++) {
            long block = pages.allocatePages(ORDER);
            MemorySegment memory = MemorySegment.ofAddress(block).reinterpret(pages.blockSize(ORDER));
            for (long offset = 0; offset < memory.byteSize(); offset += 4096) {
                memory.set(JAVA_LONG, offset, block + offset);
            }
            blocks.add(block);
        }
        return blocks;
    }

    private long purgedPages() {
        java.util.regex.Matcher line = java.util.regex.Pattern.compile("pages_purged (\\d+)").matcher(pages.zoneinfo());
        assertTrue(line.find(), pages.zoneinfo());
        return Long.parseLong(line.group(1));
    }

    @Test
    void shouldHandFreedBlocksBackToTheOperatingSystemSoThatResidentMemoryFalls() throws InterruptedException {
        allocator(Duration.ofMillis(50));
        long before = residentBytes();
        List<Long> blocks = touchBlocks();
        long touched = residentBytes();
        assertTrue(touched - before >= 60 * MIB, "64 MiB touched: " + (touched - before) / MIB + " MiB");
        blocks.forEach(block -> pages.freePages(block, ORDER));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        // Resident memory passes the mark before the pass has handed back its last block: wait for both.
        while (residentBytes() > touched - 56 * MIB || purgedPages() < BLOCKS << ORDER) {
            assertTrue(System.nanoTime() < deadline, "not every block handed back, or resident memory did not fall: "
                    + residentBytes() / MIB + " MiB, from " + touched / MIB + " MiB\n" + pages.zoneinfo());
            Thread.sleep(5);
        }
        InvariantChecker.check(pages);
    }

    @Test
    void shouldServeHandedBackMemoryAgainAsFreshZeroedPages() throws InterruptedException {
        allocator(Duration.ofMillis(20));
        touchBlocks().forEach(block -> pages.freePages(block, ORDER));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (purgedPages() < BLOCKS << ORDER) {
            assertTrue(System.nanoTime() < deadline, pages.zoneinfo());
            Thread.sleep(5);
        }
        long block = pages.allocatePages(ORDER);
        MemorySegment memory = MemorySegment.ofAddress(block).reinterpret(pages.blockSize(ORDER));
        assertEquals(0L, memory.get(JAVA_LONG, 0), "the kernel gives the page back zeroed on first touch");
        memory.set(JAVA_LONG, 8, 42L);
        assertEquals(42L, memory.get(JAVA_LONG, 8));
        pages.freePages(block, ORDER);
        InvariantChecker.check(pages);
    }

    @Test
    void shouldKeepFreedMemoryResidentUntilTheDecayHasPassed() throws InterruptedException {
        allocator(Duration.ofHours(1));
        touchBlocks().forEach(block -> pages.freePages(block, ORDER));
        Thread.sleep(200); // twenty reaper periods
        assertEquals(0, purgedPages(), pages.zoneinfo());
    }
}
