package io.pagoda;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The region: reserved address space on Linux, an FFM allocation elsewhere or when asked. */
class RegionTest {

    @Test
    @EnabledOnOs(OS.LINUX)
    void shouldReserveOneTebibyteWithoutMakingItResident() throws IOException {
        long before = residentBytes();
        try (PageAllocator pages = PageAllocator.builder().capacity(1L << 40).build()) {
            assertEquals(PageAllocator.Backing.MMAP_NORESERVE, pages.backing());
            long grown = residentBytes() - before;
            assertTrue(grown < 32L << 20, "a 1 TiB reservation made " + grown + " bytes resident");
            MemorySegment block = pages.allocate(pages.blockSize(pages.maxOrder()));
            block.set(ValueLayout.JAVA_LONG, block.byteSize() - 8, 1L);
            pages.free(block);
            assertEquals(1L << 40, pages.freeBytes());
            InvariantChecker.check(pages);
        }
    }

    @Test
    void shouldFallBackToAnFfmAllocationWhenAsked() {
        try (PageAllocator pages = PageAllocator.builder().capacity(8L << 20)
                .backing(PageAllocator.Backing.FFM_ARENA).build()) {
            assertEquals(PageAllocator.Backing.FFM_ARENA, pages.backing());
            MemorySegment segment = pages.allocate(64 * 1024);
            assertEquals(0, segment.address() % (64 * 1024));
            segment.fill((byte) 1);
            pages.free(segment);
            InvariantChecker.check(pages);
        }
    }

    @Test
    void shouldAlignTheRegionToTheLargestBlock() {
        try (PageAllocator pages = PageAllocator.builder().capacity(16L << 20).build()) {
            assertEquals(0, pages.region().base() % pages.blockSize(pages.maxOrder()));
        }
    }

    @Test
    @EnabledOnOs(OS.LINUX)
    void shouldUnmapOnTheNextCloseWhenASegmentWasInUseByANativeCall() throws Throwable {
        PageAllocator pages = PageAllocator.builder().capacity(4L << 20).build();
        MemorySegment timespec = pages.allocate(16); // struct timespec { 0 s, 300 ms }
        timespec.set(ValueLayout.JAVA_LONG, 0, 0);
        timespec.set(ValueLayout.JAVA_LONG, 8, 300_000_000);
        java.lang.foreign.Linker linker = java.lang.foreign.Linker.nativeLinker();
        java.lang.invoke.MethodHandle nanosleep = linker.downcallHandle(linker.defaultLookup().find("nanosleep").orElseThrow(),
                java.lang.foreign.FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
        java.util.concurrent.CountDownLatch calling = new java.util.concurrent.CountDownLatch(1);
        Thread sleeper = Thread.ofPlatform().start(() -> {
            calling.countDown();
            try {
                int ignored = (int) nanosleep.invokeExact(timespec, MemorySegment.NULL); // the call holds the segment's scope
            } catch (Throwable e) {
                throw new RuntimeException(e);
            }
        });
        calling.await();
        Thread.sleep(50);
        IllegalStateException inUse = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, pages::close);
        assertTrue(timespec.scope().isAlive(), "still mapped while the call runs: " + inUse.getMessage());
        org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> pages.allocate(16), "closed to calls");
        sleeper.join();
        pages.close();
        assertTrue(!timespec.scope().isAlive(), "unmapped by the second close");
    }

    @Test
    void shouldDescribeEachFrameInThirtyTwoBytes() {
        // Half the kernel's struct page, and a power of two, so that a descriptor never straddles a cache line.
        assertEquals(32, io.pagoda.region.PageDescriptors.DESCRIPTOR_BYTES);
    }

    private static long residentBytes() throws IOException {
        String[] statm = Files.readString(Path.of("/proc/self/statm")).trim().split("\\s+");
        return Long.parseLong(statm[1]) * 4096;
    }
}
