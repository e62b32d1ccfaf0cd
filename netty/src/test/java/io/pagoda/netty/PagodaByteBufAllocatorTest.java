package io.pagoda.netty;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.pagoda.PageAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Netty's expectations of an allocator, met with Pagoda memory. */
class PagodaByteBufAllocatorTest {

    private PageAllocator pages;
    private PagodaByteBufAllocator allocator;

    @BeforeEach
    void setUp() {
        pages = PageAllocator.builder().capacity(64L << 20).build();
        allocator = new PagodaByteBufAllocator(pages);
    }

    @AfterEach
    void tearDown() {
        pages.close();
    }

    private void assertEverythingBack() {
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes(), "every buffer's memory back in Pagoda");
    }

    @Test
    void shouldHandOutDirectBuffersOfPagodaMemory() {
        ByteBuf buffer = allocator.buffer(1500);
        assertTrue(buffer.isDirect());
        assertEquals(1500, buffer.capacity());
        assertTrue(pages.freeBytes() < pages.capacity(), "the memory came from Pagoda");
        buffer.writeCharSequence("hello, pagoda", StandardCharsets.US_ASCII);
        assertEquals("hello, pagoda", buffer.toString(StandardCharsets.US_ASCII));
        assertTrue(buffer.release());
        assertEverythingBack();
    }

    @Test
    void shouldGiveTheMemoryBackOnlyWhenTheLastReferenceIsReleased() {
        ByteBuf buffer = allocator.directBuffer(4096);
        buffer.retain();
        assertFalse(buffer.release());
        pages.trim();
        assertTrue(pages.freeBytes() < pages.capacity(), "still referenced");
        assertTrue(buffer.release());
        assertEquals(0, buffer.refCnt());
        assertEverythingBack();
    }

    @Test
    void shouldGrowByTakingNewMemoryAndGivingTheOldBack() {
        ByteBuf buffer = allocator.directBuffer(64);
        for (int i = 0; i < 100_000; i++) {
            buffer.writeByte(i);
        }
        assertTrue(buffer.capacity() >= 100_000);
        for (int i = 0; i < 100_000; i++) {
            assertEquals((byte) i, buffer.getByte(i));
        }
        buffer.release();
        assertEverythingBack();
    }

    @Test
    void shouldServeCompositeAndHeapBuffers() {
        CompositeByteBuf composite = allocator.compositeDirectBuffer();
        composite.addComponents(true, allocator.directBuffer(100).writeZero(100), allocator.directBuffer(200).writeZero(200));
        assertEquals(300, composite.readableBytes());
        composite.release();
        ByteBuf heap = allocator.heapBuffer(100);
        assertTrue(heap.hasArray());
        heap.release();
        assertEverythingBack();
    }

    @Test
    void shouldServeManyThreadsReleasingEachOthersBuffers() throws Exception {
        java.util.concurrent.ConcurrentLinkedQueue<ByteBuf> handOff = new java.util.concurrent.ConcurrentLinkedQueue<>();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            int seed = t;
            threads.add(Thread.ofPlatform().start(() -> {
                java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
                for (int i = 0; i < 20_000; i++) {
                    ByteBuf buffer = allocator.directBuffer(1 + random.nextInt(32 * 1024));
                    buffer.writeInt(i);
                    handOff.add(buffer);
                    ByteBuf other = handOff.poll();
                    if (other != null) {
                        other.release();
                    }
                }
            }));
        }
        for (Thread thread : threads) {
            thread.join();
        }
        for (ByteBuf left = handOff.poll(); left != null; left = handOff.poll()) {
            left.release();
        }
        assertEverythingBack();
    }

    // Buffers whose memory is gone: touched after their allocator was closed, or through a view of
    // a large buffer after its release, they throw instead of reaching unmapped memory and crashing
    // the JVM (as each of these did before the buffers went through the memory's segment).

    @Test
    void shouldThrowWhenABufferIsReadOrWrittenAfterItsAllocatorClosed() {
        ByteBuf buffer = allocator.directBuffer(64).writeInt(7);
        pages.close();
        assertThrows(IllegalStateException.class, () -> buffer.getInt(0));
        assertThrows(IllegalStateException.class, () -> buffer.setLong(0, 1));
        assertThrows(IllegalStateException.class, () -> buffer.getBytes(0, new byte[4]));
        assertThrows(IllegalStateException.class, () -> buffer.setBytes(0, new byte[4]));
    }

    @Test
    void shouldThrowWhenAByteBufferViewIsUsedAfterItsAllocatorClosed() {
        ByteBuf buffer = allocator.directBuffer(64).writeInt(7);
        ByteBuffer view = buffer.nioBuffer(0, 4);
        ByteBuffer internal = buffer.internalNioBuffer(0, 4);
        assertEquals(7, view.getInt(0));
        pages.close();
        assertThrows(IllegalStateException.class, () -> view.getInt(0));
        assertThrows(IllegalStateException.class, () -> internal.putInt(0, 1));
    }

    @Test
    void shouldRefuseTheReleaseOfABufferOnceItsAllocatorClosed() {
        ByteBuf buffer = allocator.directBuffer(64);
        pages.close();
        IllegalStateException refused = assertThrows(IllegalStateException.class, buffer::release);
        assertEquals("PageAllocator is closed", refused.getMessage());
    }

    @Test
    void shouldThrowWhenAViewOfALargeBufferIsUsedAfterItsReleaseUnmappedIt() {
        ByteBuf large = allocator.directBuffer(8 << 20).writeLong(42);
        ByteBuffer view = large.nioBuffer(0, 8);
        large.release();
        assertThrows(IllegalStateException.class, () -> view.getLong(0), "its own mapping is gone");
    }

    @Test
    void shouldCopyBetweenARegionBufferAndALargeOneEachThroughItsOwnMemory() {
        ByteBuf small = allocator.directBuffer(64).writeLong(42);
        ByteBuf large = allocator.directBuffer(8 << 20).writerIndex(8 << 20).setLong(0, 99);
        large.setBytes((8 << 20) - 8, small, 0, 8);
        assertEquals(42, large.getLong((8 << 20) - 8));
        large.getBytes(0, small, 8, 8);
        assertEquals(99, small.getLong(8));
        small.release();
        large.release();
    }
}
