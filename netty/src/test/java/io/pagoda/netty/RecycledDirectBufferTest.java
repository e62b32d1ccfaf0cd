package io.pagoda.netty;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.util.IllegalReferenceCountException;
import io.netty.util.ResourceLeakDetector;
import io.pagoda.PageAllocator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.ref.WeakReference;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The direct buffers' own behaviour: recycled objects over memory from Pagoda's address API.
 * Netty's leak detector is off here, so that the buffers handed out are the recycled objects
 * themselves and not, one in 128, a wrapper; every test ends with every byte back in Pagoda.
 */
class RecycledDirectBufferTest {

    private static ResourceLeakDetector.Level leakDetection;

    private PageAllocator pages;
    private PagodaByteBufAllocator allocator;

    @BeforeAll
    static void turnLeakDetectionOff() {
        leakDetection = ResourceLeakDetector.getLevel();
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
    }

    @AfterAll
    static void restoreLeakDetection() {
        ResourceLeakDetector.setLevel(leakDetection);
    }

    @BeforeEach
    void setUp() {
        pages = PageAllocator.builder().capacity(64L << 20).build();
        allocator = new PagodaByteBufAllocator(pages);
    }

    @AfterEach
    void everyByteIsBackInPagoda() {
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes() + pages.cachedBytes(), "every buffer's memory back in Pagoda");
        pages.close();
    }

    /** Where a buffer's memory is, as its ByteBuffer view tells. */
    private static long addressOf(ByteBuf buffer) {
        return MemorySegment.ofBuffer(buffer.nioBuffer(0, 1)).address();
    }

    @Test
    void shouldHandOutTheSameObjectAgainAfterItsRelease() {
        ByteBuf first = allocator.directBuffer(256);
        assertTrue(first.release());
        ByteBuf second = allocator.directBuffer(4096);
        assertSame(first, second);
        assertEquals(4096, second.capacity());
        second.release();
    }

    @Test
    void shouldStartEveryReuseEmptyWithOneReference() {
        ByteBuf first = allocator.directBuffer(64, 1000);
        first.writeLong(42).readInt();
        first.markReaderIndex().markWriterIndex();
        first.release();
        ByteBuf second = allocator.directBuffer(32, 2000);
        assertSame(first, second);
        assertEquals(1, second.refCnt());
        assertEquals(0, second.readerIndex());
        assertEquals(0, second.writerIndex());
        assertEquals(2000, second.maxCapacity());
        second.writeInt(7).resetReaderIndex().resetWriterIndex();
        assertEquals(0, second.writerIndex(), "the marks were reset to zero too");
        second.release();
    }

    @Test
    void shouldAllocateNearlyNoHeapPerPairOnceWarm() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long thread = Thread.currentThread().threadId();
        int[] sizes = {256, 4096, 16384};
        for (int i = 0; i < 50_000; i++) {
            allocator.directBuffer(sizes[i % 3]).release();
        }
        int pairs = 100_000;
        long before = threads.getThreadAllocatedBytes(thread);
        for (int i = 0; i < pairs; i++) {
            allocator.directBuffer(sizes[i % 3]).release();
        }
        long perPair = (threads.getThreadAllocatedBytes(thread) - before) / pairs;
        assertTrue(perPair < 8, "heap bytes per directBuffer + release pair: " + perPair + " (was 328 to 384 before recycling)");
    }

    @Test
    void shouldThrowWhenAReleasedBufferIsUsed() {
        ByteBuf buffer = allocator.directBuffer(64).writeInt(1);
        buffer.release();
        assertEquals(0, buffer.refCnt());
        assertThrows(IllegalReferenceCountException.class, () -> buffer.getByte(0));
        assertThrows(IllegalReferenceCountException.class, () -> buffer.setInt(0, 1));
        assertThrows(IllegalReferenceCountException.class, () -> buffer.writeByte(1));
        assertThrows(IllegalReferenceCountException.class, () -> buffer.readInt());
        assertThrows(IllegalReferenceCountException.class, () -> buffer.nioBuffer(0, 4));
        assertThrows(IllegalReferenceCountException.class, () -> buffer.internalNioBuffer(0, 4));
        assertThrows(IllegalReferenceCountException.class, () -> buffer.getBytes(0, new byte[4]));
        assertThrows(IllegalReferenceCountException.class, () -> buffer.capacity(128));
        assertThrows(IllegalReferenceCountException.class, buffer::release);
        assertThrows(IllegalReferenceCountException.class, buffer::retain);
    }

    @Test
    void shouldThrowWhenAReleasedBufferIsWrittenPastItsUsableSize() {
        ByteBuf buffer = allocator.directBuffer(64);
        ByteBuf duplicate = buffer.duplicate();
        buffer.release();
        byte[] more = new byte[100_000]; // Netty's ensureWritable asks the allocator how to grow first
        assertThrows(IllegalReferenceCountException.class, () -> buffer.writeBytes(more));
        assertThrows(IllegalReferenceCountException.class, () -> duplicate.writeBytes(more));
        assertThrows(IllegalReferenceCountException.class, () -> buffer.ensureWritable(100_000));
        assertThrows(IllegalReferenceCountException.class, buffer::alloc);
    }

    @Test
    void shouldRefuseToCopyIntoAReleasedPagodaBuffer() {
        ByteBuf source = allocator.directBuffer(64).writeLong(1);
        ByteBuf released = allocator.directBuffer(64);
        released.release();
        assertThrows(IllegalReferenceCountException.class, () -> source.getBytes(0, released, 0, 8));
        assertThrows(IllegalReferenceCountException.class, () -> source.setBytes(0, released, 0, 8));
        source.release();
    }

    @Test
    void shouldGrowWithinTheUsableSizeWithoutMovingTheMemory() {
        ByteBuf buffer = allocator.directBuffer(100);
        int usable = (int) pages.usableSize(100);
        assertTrue(usable > 100, "a size class larger than asked: " + usable);
        long address = addressOf(buffer);
        buffer.writeZero(usable);
        assertEquals(usable, buffer.capacity(), "ensureWritable grew to the usable size first");
        assertEquals(address, addressOf(buffer));
        buffer.release();
    }

    @Test
    void shouldMoveToNewMemoryWithTheBytesWhenGrowingPastTheUsableSize() {
        ByteBuf buffer = allocator.directBuffer(64);
        long address = addressOf(buffer);
        for (int i = 0; i < 100_000; i++) {
            buffer.writeByte(i);
        }
        assertNotEquals(address, addressOf(buffer));
        for (int i = 0; i < 100_000; i++) {
            assertEquals((byte) i, buffer.getByte(i));
        }
        buffer.release();
    }

    @Test
    void shouldTrimIndicesWhenShrinking() {
        ByteBuf buffer = allocator.directBuffer(256).writeZero(200).readerIndex(150);
        buffer.capacity(100);
        assertEquals(100, buffer.capacity());
        assertEquals(100, buffer.readerIndex());
        assertEquals(100, buffer.writerIndex());
        buffer.release();
    }

    @Test
    void shouldKeepTheBufferAliveWhileARetainedSliceIsHeld() {
        ByteBuf buffer = allocator.directBuffer(64).writeLong(0x0102030405060708L);
        ByteBuf slice = buffer.retainedSlice(4, 4);
        assertFalse(buffer.release(), "the slice holds a reference");
        assertEquals(0x05060708, slice.getInt(0));
        assertTrue(slice.release());
        assertEquals(0, buffer.refCnt());
    }

    @Test
    void shouldShareMemoryAndCountWithDuplicatesAndSlices() {
        ByteBuf buffer = allocator.directBuffer(64).writeZero(16);
        ByteBuf duplicate = buffer.duplicate();
        ByteBuf slice = buffer.slice(8, 8);
        duplicate.setInt(0, 0xCAFEBABE);
        slice.setInt(0, 0xDEADBEEF);
        assertEquals(0xCAFEBABE, buffer.getInt(0));
        assertEquals(0xDEADBEEF, buffer.getInt(8));
        assertTrue(slice.release(), "a plain slice releases its parent");
        assertEquals(0, buffer.refCnt());
        assertThrows(IllegalReferenceCountException.class, () -> duplicate.getByte(0));
    }

    @Test
    void shouldGiveABufferReleasedOnAnotherThreadBackToTheThreadThatMadeIt() throws Exception {
        ByteBuf buffer = allocator.directBuffer(1024);
        AtomicReference<ByteBuf> madeThere = new AtomicReference<>();
        Thread.ofPlatform().start(() -> {
            if (buffer.release()) {
                madeThere.set(allocator.directBuffer(1024));
                madeThere.get().release();
            }
        }).join();
        assertTrue(madeThere.get() != null, "released there");
        assertNotSame(buffer, madeThere.get(), "the releasing thread does not keep it");
        ByteBuf again = allocator.directBuffer(512);
        assertSame(buffer, again);
        again.release();
    }

    @Test
    void shouldNeverHandOutABufferTwiceWhileThreadsReleaseEachOthers() throws Exception {
        int threads = 4;
        int rounds = 20_000;
        java.util.concurrent.ArrayBlockingQueue<ByteBuf> handOff = new java.util.concurrent.ArrayBlockingQueue<>(64);
        AtomicReference<String> failure = new AtomicReference<>();
        List<Thread> started = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            long id = t;
            started.add(Thread.ofPlatform().start(() -> {
                try {
                    for (long i = 0; i < rounds; i++) {
                        long stamp = id << 32 | i;
                        ByteBuf mine = allocator.directBuffer(8 + (int) (i % 3) * 4096);
                        mine.writeLong(stamp);
                        mine.writeZero(mine.writableBytes());
                        ByteBuf other = handOff.poll();
                        if (other != null) {
                            other.release();
                        }
                        if (mine.getLong(0) != stamp) {
                            failure.compareAndSet(null, "another owner wrote into a buffer in use: " + Long.toHexString(mine.getLong(0)));
                        }
                        if (!handOff.offer(mine)) {
                            mine.release();
                        }
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e.toString());
                }
            }));
        }
        for (Thread thread : started) {
            thread.join();
        }
        for (ByteBuf left = handOff.poll(); left != null; left = handOff.poll()) {
            left.release();
        }
        assertEquals(null, failure.get());
    }

    @Test
    void shouldPassPagodasDebugChecksForWritesAfterFreeAndLeaks() throws Exception {
        try (PageAllocator debugged = PageAllocator.builder().capacity(16L << 20).debug(true).build()) {
            PagodaByteBufAllocator checked = new PagodaByteBufAllocator(debugged);
            for (int i = 0; i < 200; i++) {
                ByteBuf buffer = checked.directBuffer(64);
                buffer.writeZero(64 + i * 100); // grows, moving and freeing the old memory
                ByteBuf slice = buffer.retainedSlice(0, 8);
                buffer.release();
                slice.setLong(0, i);
                Thread.ofPlatform().start(slice::release).join();
            }
            assertEquals("", debugged.leakReport());
        }
    }

    @Test
    void shouldKeepAtMostMaxKeptReleasedObjectsPerThread() {
        int many = 2 * BufferRecycler.MAX_KEPT;
        List<ByteBuf> buffers = new ArrayList<>();
        for (int i = 0; i < many; i++) {
            buffers.add(allocator.directBuffer(64));
        }
        Set<ByteBuf> first = Collections.newSetFromMap(new IdentityHashMap<>());
        first.addAll(buffers);
        buffers.forEach(ByteBuf::release);
        buffers.clear();
        int reused = 0;
        for (int i = 0; i < many; i++) {
            ByteBuf buffer = allocator.directBuffer(64);
            reused += first.contains(buffer) ? 1 : 0;
            buffers.add(buffer);
        }
        buffers.forEach(ByteBuf::release);
        assertEquals(BufferRecycler.MAX_KEPT, reused);
    }

    @Test
    void shouldLetAnAllocatorNoLongerUsedBeCollectedWhileTheThreadsThatKeepItsObjectsLive() throws Exception {
        // A recycler is a value of this thread's ThreadLocal map, which holds it as long as the
        // thread lives; the objects it keeps must not hold their allocator, or the allocator (and
        // the closed PageAllocator behind it) would stay as long as every event loop that used it.
        PageAllocator own = PageAllocator.builder().capacity(16L << 20).build();
        PagodaByteBufAllocator dropped = new PagodaByteBufAllocator(own);
        List<ByteBuf> buffers = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            buffers.add(dropped.directBuffer(64));
        }
        Thread releaser = new Thread(() -> buffers.subList(0, 4).forEach(ByteBuf::release));
        releaser.start();
        releaser.join();
        buffers.subList(4, 8).forEach(ByteBuf::release);
        buffers.clear();
        own.close();
        WeakReference<PagodaByteBufAllocator> allocatorGone = new WeakReference<>(dropped);
        WeakReference<PageAllocator> pagesGone = new WeakReference<>(own);
        dropped = null;
        own = null;
        long deadline = System.nanoTime() + 10_000_000_000L;
        while ((allocatorGone.get() != null || pagesGone.get() != null) && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(10);
        }
        assertNull(allocatorGone.get(), "the ByteBuf allocator was collected");
        assertNull(pagesGone.get(), "the PageAllocator was collected");
    }

    @Test
    void shouldServeVirtualThreadsWithNewObjects() throws Exception {
        List<ByteBuf> seen = new ArrayList<>();
        Thread.ofVirtual().start(() -> {
            for (int i = 0; i < 2; i++) {
                ByteBuf buffer = allocator.directBuffer(128).writeInt(i);
                assertEquals(i, buffer.readInt());
                buffer.release();
                seen.add(buffer);
            }
        }).join();
        assertNotSame(seen.get(0), seen.get(1));
    }

    @Test
    void shouldReadEveryWidthAsNettysHeapBuffersWriteIt() {
        ByteBuf expected = Unpooled.buffer(64);
        ByteBuf buffer = allocator.directBuffer(64);
        for (ByteBuf b : List.of(expected, buffer)) {
            b.writeByte(0x81).writeShort(0x8283).writeShortLE(0x8485).writeMedium(0x868788).writeMediumLE(0x898A8B)
                    .writeInt(0x8C8D8E8F).writeIntLE(0x90919293).writeLong(0x9495969798999A9BL).writeLongLE(0x9C9D9E9FA0A1A2A3L);
        }
        assertEquals(expected, buffer, "the same bytes");
        assertEquals((byte) 0x81, buffer.readByte());
        assertEquals((short) 0x8283, buffer.readShort());
        assertEquals((short) 0x8485, buffer.readShortLE());
        assertEquals(0x868788, buffer.readUnsignedMedium());
        assertEquals(0x898A8B, buffer.readUnsignedMediumLE());
        assertEquals(0x8C8D8E8F, buffer.readInt());
        assertEquals(0x90919293, buffer.readIntLE());
        assertEquals(0x9495969798999A9BL, buffer.readLong());
        assertEquals(0x9C9D9E9FA0A1A2A3L, buffer.readLongLE());
        buffer.release();
    }

    @Test
    void shouldCopyBytesToAndFromEveryKindOfBuffer() {
        byte[] bytes = new byte[300];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) (i * 7);
        }
        ByteBuf buffer = allocator.directBuffer(300).writeBytes(bytes);
        ByteBuf pagoda = allocator.directBuffer(300).writeBytes(buffer, 0, 300);
        ByteBuf heap = Unpooled.buffer(300).writeBytes(pagoda, 0, 300);
        ByteBuf jdkDirect = Unpooled.directBuffer(300).writeBytes(heap, 0, 300);
        CompositeByteBuf composite = Unpooled.compositeBuffer().addComponents(true,
                allocator.directBuffer(100).writeZero(100), Unpooled.buffer(200).writeZero(200));
        composite.setBytes(0, jdkDirect, 0, 300);
        ByteBuf back = allocator.directBuffer(300).writeBytes(composite, 0, 300);
        ByteBuffer nio = ByteBuffer.allocate(300);
        back.getBytes(0, nio);
        assertArrayEquals(bytes, nio.array());
        byte[] copied = new byte[300];
        back.copy().readBytes(copied).release();
        assertArrayEquals(bytes, copied);
        for (ByteBuf b : List.of(buffer, pagoda, heap, jdkDirect, composite, back)) {
            b.release();
        }
    }

    @Test
    void shouldMoveBytesThroughChannelsAndStreams() throws IOException {
        byte[] bytes = "through a pipe and a stream".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        Pipe pipe = Pipe.open();
        ByteBuf out = allocator.directBuffer(64).writeBytes(bytes);
        assertEquals(bytes.length, out.readBytes(pipe.sink(), out.readableBytes()));
        ByteBuf in = allocator.directBuffer(64);
        assertEquals(bytes.length, in.writeBytes(pipe.source(), bytes.length));
        ByteArrayOutputStream stream = new ByteArrayOutputStream();
        in.readBytes(stream, in.readableBytes());
        assertArrayEquals(bytes, stream.toByteArray());
        in.clear();
        assertEquals(bytes.length, in.writeBytes(new ByteArrayInputStream(bytes), bytes.length));
        assertArrayEquals(bytes, readable(in));
        pipe.sink().close();
        assertEquals(-1, in.writeBytes(pipe.source(), 8), "a closed channel reads -1");
        pipe.source().close();
        out.release();
        in.release();
    }

    @Test
    void shouldSetBytesFromItsOwnInternalNioBuffer() {
        ByteBuf buffer = counting(16);
        ByteBuffer source = buffer.internalNioBuffer(8, 4);
        buffer.setBytes(0, source);
        assertEquals(0x08090A0B, buffer.getInt(0), "the bytes the source held, from its position");
        assertEquals(12, source.position(), "the source's position moved past the bytes copied");
        buffer.release();
    }

    @Test
    void shouldGetBytesIntoItsOwnInternalNioBuffer() {
        ByteBuf buffer = counting(16);
        ByteBuffer destination = buffer.internalNioBuffer(8, 4);
        buffer.getBytes(0, destination);
        assertEquals(0x00010203, buffer.getInt(8));
        assertEquals(12, destination.position(), "the destination's position moved past the bytes copied");
        buffer.release();
    }

    /**
     * As a ChannelGroup writes one buffer to channels of several event loops: each channel gets a
     * retained duplicate, and each event loop writes its own at the same moment.
     */
    @Test
    void shouldWriteEachDuplicatesOwnBytesWhileAnotherThreadWritesTheSameBuffer() throws Exception {
        ByteBuf buffer = counting(64);
        ByteBuf first = buffer.retainedDuplicate();
        ByteBuf second = buffer.retainedDuplicate().readerIndex(32);
        java.util.concurrent.CountDownLatch firstWriting = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch secondWritten = new java.util.concurrent.CountDownLatch(1);
        RecordingChannel firstChannel = new RecordingChannel(() -> {
            firstWriting.countDown();
            await(secondWritten);
        });
        RecordingChannel secondChannel = new RecordingChannel(() -> { });
        Thread other = Thread.ofPlatform().start(() -> {
            await(firstWriting);
            try {
                second.readBytes(secondChannel, 8);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            } finally {
                secondWritten.countDown();
            }
        });
        assertEquals(8, first.readBytes(firstChannel, 8));
        other.join();
        assertArrayEquals(new byte[] {0, 1, 2, 3, 4, 5, 6, 7}, firstChannel.written.toByteArray());
        assertArrayEquals(new byte[] {32, 33, 34, 35, 36, 37, 38, 39}, secondChannel.written.toByteArray());
        first.release();
        second.release();
        buffer.release();
    }

    /** A direct buffer of 64 bytes whose first {@code bytes} hold 0, 1, 2 and on, written. */
    private ByteBuf counting(int bytes) {
        ByteBuf buffer = allocator.directBuffer(64);
        for (int i = 0; i < bytes; i++) {
            buffer.writeByte(i);
        }
        return buffer;
    }

    private static void await(java.util.concurrent.CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A channel that keeps what is written to it, after running {@code beforeEachWrite}. */
    private static final class RecordingChannel implements java.nio.channels.GatheringByteChannel {
        final ByteArrayOutputStream written = new ByteArrayOutputStream();
        private final Runnable beforeEachWrite;

        RecordingChannel(Runnable beforeEachWrite) {
            this.beforeEachWrite = beforeEachWrite;
        }

        @Override
        public int write(ByteBuffer src) {
            beforeEachWrite.run();
            int bytes = src.remaining();
            while (src.hasRemaining()) {
                written.write(src.get());
            }
            return bytes;
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) {
            long bytes = 0;
            for (int i = offset; i < offset + length; i++) {
                bytes += write(srcs[i]);
            }
            return bytes;
        }

        @Override
        public long write(ByteBuffer[] srcs) {
            return write(srcs, 0, srcs.length);
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }

    private static byte[] readable(ByteBuf buffer) {
        byte[] bytes = new byte[buffer.readableBytes()];
        buffer.getBytes(buffer.readerIndex(), bytes);
        return bytes;
    }

    @Test
    void shouldViewTheBytesAsByteBuffers() {
        ByteBuf buffer = allocator.directBuffer(64).writeLong(0x1122334455667788L);
        ByteBuffer view = buffer.nioBuffer(4, 4);
        assertTrue(view.isDirect());
        assertEquals(0, view.position());
        assertEquals(4, view.remaining());
        assertEquals(0x55667788, view.getInt());
        ByteBuffer internal = buffer.internalNioBuffer(2, 2);
        assertEquals(2, internal.position());
        assertEquals(4, internal.limit());
        assertEquals((short) 0x3344, internal.getShort(2));
        assertEquals(1, buffer.nioBuffers().length);
        buffer.release();
    }
}
