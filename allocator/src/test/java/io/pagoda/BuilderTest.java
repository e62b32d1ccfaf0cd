package io.pagoda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A bad configuration is refused with a message that names the setting and the value. */
class BuilderTest {

    private static void refuses(Class<? extends Throwable> type, String messagePart, org.junit.jupiter.api.function.Executable call) {
        Throwable thrown = assertThrows(type, call);
        assertTrue(thrown.getMessage().contains(messagePart), thrown.getMessage());
    }

    @Test
    void shouldRefuseAMinFreeLargerThanTheCapacity() {
        for (long minFree : new long[] {128L << 20, 1L << 62, Long.MAX_VALUE}) {
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> PageAllocator.builder().capacity(64L << 20).minFreeBytes(minFree).build());
            assertTrue(refused.getMessage().contains("minFreeBytes " + minFree + " is more than the capacity"), refused.getMessage());
        }
    }

    @Test
    void shouldRequireACapacity() {
        refuses(IllegalStateException.class, "capacity is required", () -> PageAllocator.builder().build());
    }

    @Test
    void shouldRefuseANonPositiveCapacity() {
        refuses(IllegalArgumentException.class, "capacity must be positive: 0", () -> PageAllocator.builder().capacity(0));
        refuses(IllegalArgumentException.class, "capacity must be positive: -4096", () -> PageAllocator.builder().capacity(-4096));
    }

    @Test
    void shouldRefuseACapacityThatIsNotAMultipleOfThePageSize() {
        refuses(IllegalArgumentException.class, "not a multiple of the page size 4096",
                () -> PageAllocator.builder().capacity(10_000).build());
    }

    @Test
    void shouldRefuseMoreThanTwoToTheThirtyFrames() {
        refuses(IllegalArgumentException.class, "at most 1073741824 frames",
                () -> PageAllocator.builder().capacity((1L << 42) + 4096).build());
    }

    @Test
    void shouldRefusePageSizesThatAreNotPowersOfTwoInRange() {
        refuses(IllegalArgumentException.class, "pageSize must be a power of two", () -> PageAllocator.builder().pageSize(5000));
        refuses(IllegalArgumentException.class, "pageSize must be a power of two", () -> PageAllocator.builder().pageSize(2048));
        refuses(IllegalArgumentException.class, "pageSize must be a power of two", () -> PageAllocator.builder().pageSize(-4096));
    }

    @Test
    void shouldRefuseMaxOrdersOutsideZeroToTwenty() {
        refuses(IllegalArgumentException.class, "maxOrder must be from 0 to 20: 21", () -> PageAllocator.builder().maxOrder(21));
        refuses(IllegalArgumentException.class, "maxOrder must be from 0 to 20: -1", () -> PageAllocator.builder().maxOrder(-1));
    }

    @Test
    void shouldRefuseANullBacking() {
        refuses(NullPointerException.class, "backing", () -> PageAllocator.builder().backing(null));
    }

    @Test
    void shouldUseTheKernelsDefaults() {
        try (PageAllocator pages = PageAllocator.builder().capacity(8L << 20).build()) {
            assertEquals(4096, pages.pageSize());
            assertEquals(10, pages.maxOrder());
            assertEquals(4L << 20, pages.blockSize(10));
            assertEquals(8L << 20, pages.capacity());
            assertEquals(9, pages.pageblockOrder(), "2 MiB pageblocks");
        }
    }

    @Test
    void shouldRefuseAPageblockOrderThatIsNegativeOrAboveMaxOrder() {
        refuses(IllegalArgumentException.class, "pageblockOrder must not be negative: -1", () -> PageAllocator.builder().pageblockOrder(-1));
        refuses(IllegalArgumentException.class, "pageblockOrder 11 is above maxOrder 10",
                () -> PageAllocator.builder().capacity(8L << 20).pageblockOrder(11).build());
    }

    @Test
    void shouldShrinkTheDefaultPageblockToTheLargestBlock() {
        try (PageAllocator pages = PageAllocator.builder().capacity(8L << 20).maxOrder(5).build()) {
            assertEquals(5, pages.pageblockOrder());
        }
    }

    @Test
    void shouldBuildWhenTheLargestOrderIsFarLargerThanTheRegion() {
        // 1 GiB pages and max order 20 would align the region to 2^50 bytes: more than the address space
        try (PageAllocator pages = PageAllocator.builder().capacity(1L << 30).pageSize(1 << 30).maxOrder(20).build()) {
            long only = pages.allocatePages(0);
            assertEquals(0, only % (1L << 30));
            assertThrows(OutOfPagesException.class, () -> pages.allocatePages(1));
            pages.freePages(only, 0);
        }
    }

    @Test
    void shouldRefuseAHighBelowTheBatch() {
        refuses(IllegalArgumentException.class, "cacheHigh 4 is below cacheBatch 8",
                () -> PageAllocator.builder().capacity(4L << 20).cacheBatch(8).cacheHigh(4).build());
    }

    @Test
    void shouldRefuseBadCacheSettings() {
        refuses(IllegalArgumentException.class, "cachedOrders must be from 0 to 8: 9", () -> PageAllocator.builder().cachedOrders(9));
        refuses(IllegalArgumentException.class, "cacheBatch must be positive: 0", () -> PageAllocator.builder().cacheBatch(0));
        refuses(IllegalArgumentException.class, "cacheHigh must be positive: -1", () -> PageAllocator.builder().cacheHigh(-1));
        refuses(IllegalArgumentException.class, "cacheIdleTimeout must be positive", () -> PageAllocator.builder().cacheIdleTimeout(java.time.Duration.ZERO));
    }

    @Test
    void shouldAllowMaxOrderZero() {
        try (PageAllocator pages = PageAllocator.builder().capacity(4 * 4096).maxOrder(0).build()) {
            long a = pages.allocatePages(0);
            pages.freePages(a, 0);
            pages.trim();
            assertEquals("Node 0, zone   Normal      4 \n", pages.buddyinfo());
            InvariantChecker.check(pages);
        }
    }
}
