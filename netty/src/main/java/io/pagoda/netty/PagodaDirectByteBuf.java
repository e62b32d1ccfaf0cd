package io.pagoda.netty;

import io.netty.buffer.AbstractReferenceCountedByteBuf;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.IllegalReferenceCountException;
import io.pagoda.PageAllocator;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.ScatteringByteChannel;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * A direct ByteBuf over Pagoda memory at an address ({@link PageAllocator#allocateAddress}),
 * whose object is recycled: when its reference count falls to zero, the memory goes back to
 * Pagoda with {@link PageAllocator#freeAddress} and the object to the {@link BufferRecycler} of
 * the thread that made it, for that thread's next allocation. So a steady allocate-release cycle
 * costs no heap.
 *
 * <p>Invariants, while the reference count is positive: {@code memory.address() + offset} is the
 * address of memory handed out by {@code pages} and not yet freed, of {@code usable} bytes
 * ({@link PageAllocator#usableSize}), and {@code memory} is the segment that holds it
 * ({@link PageAllocator#memoryOf}); {@code capacity() <= usable} and {@code <= maxCapacity()};
 * {@code view} and {@code internal}, when not null, are ByteBuffers over exactly those
 * {@code usable} bytes, and {@code view}'s position and limit never move. Released, it holds no
 * allocator: {@code allocator} and {@code pages} are null until its next {@link #reuse}, and
 * {@link #alloc()} refuses as every other access does. Growth
 * within {@code usable} only moves the capacity; beyond it, the bytes move to new memory and the
 * old memory is freed.
 *
 * <p>Reference counting, index checks and derived buffers are Netty's: {@code slice()} and
 * {@code duplicate()} share this buffer's count, so a retained slice keeps it alive. A released
 * buffer refuses every access with {@link io.netty.util.IllegalReferenceCountException} until its
 * object is reused. As with Netty's pooled buffers, a reference kept past the release (and the
 * buffers derived from it) then reaches the new owner's buffer: nothing can tell the two lives
 * apart without a heap object per allocation.
 *
 * <p>Reads and writes go through {@code memory} after Netty's index checks, so the JDK checks
 * each against the memory's lifetime: a buffer (or a ByteBuffer view of it) touched after its
 * allocator was closed, or after its mapping was freed, throws {@link IllegalStateException}
 * instead of crashing the JVM. The segment is the whole region, made once, so an allocation costs
 * no heap for it. ByteBuffers
 * ({@link #nioBuffer}, {@link #internalNioBuffer}, channel I/O) are views made on demand; two are
 * kept and used again while the memory stays the same, even across a recycle to the same address:
 * one only ever read with absolute indices, which any thread may use at once (duplicates of one
 * buffer are written to several channels by several event loops), and the one
 * {@link #internalNioBuffer} hands out, whose position and limit its caller moves.
 * {@link #hasMemoryAddress()} is false, as for Netty's own buffers without {@code sun.misc.Unsafe}
 * (the default on Java 25): Netty's address fast paths copy with Unsafe.
 */
final class PagodaDirectByteBuf extends AbstractReferenceCountedByteBuf {

    private static final ValueLayout.OfShort SHORT_BE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT_BE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG_BE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Bytes a stream copy moves through the heap at a time. */
    private static final int STREAM_CHUNK = 8192;

    /** The allocator of the current life; null while released (see {@link #deallocate}). */
    private PagodaByteBufAllocator allocator;
    /** {@code allocator.pages()}, for the memory calls; null while released. */
    private PageAllocator pages;
    /** Where this object goes back when released: its maker's recycler, or null (a virtual thread's: dropped). */
    private final BufferRecycler home;

    /** The segment that holds this buffer's memory, for as long as that memory lives; null before the first {@link #reuse}. */
    private MemorySegment memory;
    /** Where the memory starts in {@code memory}. */
    private long offset;
    private int capacity;
    private int usable;
    /** Over the usable bytes, position 0 and limit {@code usable} for good: absolute reads and slices only, from any thread. */
    private ByteBuffer view;
    /** Over the usable bytes: the one {@link #internalNioBuffer} hands out, to its caller to move. */
    private ByteBuffer internal;

    /** The next buffer on {@code home}'s chain of buffers released by other threads; written before the push that publishes it. */
    PagodaDirectByteBuf nextReturned;
    /** How long that chain is with this buffer on top, which bounds it. */
    int returnedChainLength;

    /** A buffer without memory yet: {@link #reuse} gives it some before it is handed out. */
    PagodaDirectByteBuf(BufferRecycler home) {
        super(0);
        this.home = home;
    }

    /**
     * Gives this buffer (new, or released and taken from its recycler) fresh memory and its first
     * reference, indices and marks at zero.
     *
     * @throws io.pagoda.OutOfPagesException as {@link PageAllocator#allocateAddress} does; the
     *         buffer is then left unusable, and the caller drops it
     */
    void reuse(PagodaByteBufAllocator allocator, int initialCapacity, int maxCapacity) {
        this.allocator = allocator;
        this.pages = allocator.pages();
        long address = pages.allocateAddress(initialCapacity);
        MemorySegment holder = pages.memoryOf(address);
        int bytes = usableSize(initialCapacity);
        // The views stay only over the very same bytes of the very same segment: a new mapping
        // at the old address has another lifetime.
        if (holder != memory || address != address() || bytes != usable) {
            view = null;
            internal = null;
        }
        memory = holder;
        offset = address - holder.address();
        usable = bytes;
        capacity = initialCapacity;
        maxCapacity(maxCapacity);
        clear();
        markReaderIndex();
        markWriterIndex();
        resetRefCnt();
    }

    private long address() {
        return memory.address() + offset;
    }

    /** The bytes Pagoda reserves for {@code bytes}, as many as a ByteBuf can hold. */
    private int usableSize(int bytes) {
        return (int) Math.min(pages.usableSize(bytes), Integer.MAX_VALUE);
    }

    /** The last reference is gone: the memory to Pagoda first, then the object to its recycler, where it may be reused at once. */
    @Override
    protected void deallocate() {
        pages.freeAddress(address());
        // The recycler that keeps this object is a value in its thread's ThreadLocal map, held as
        // long as the thread lives; an allocator reachable from here would be held as long, and
        // with it the ThreadLocal, its key, so the entry would never clear.
        allocator = null;
        pages = null;
        if (home != null) {
            home.giveBack(this);
        }
    }

    @Override
    public int capacity() {
        return capacity;
    }

    /** Within the usable size, growth is free: Netty's ensureWritable grows to here before it asks for more. */
    @Override
    public int maxFastWritableBytes() {
        return Math.min(usable, maxCapacity()) - writerIndex();
    }

    @Override
    public ByteBuf capacity(int newCapacity) {
        checkNewCapacity(newCapacity);
        if (newCapacity > usable) {
            move(newCapacity);
        } else if (newCapacity < capacity) {
            trimIndicesToCapacity(newCapacity);
        }
        capacity = newCapacity;
        return this;
    }

    /** To new memory of {@code newCapacity} bytes, with the current bytes; the old memory is freed last, so a failure changes nothing. */
    private void move(int newCapacity) {
        long address = pages.allocateAddress(newCapacity);
        MemorySegment to = pages.memoryOf(address);
        long toOffset = address - to.address();
        MemorySegment.copy(memory, offset, to, toOffset, capacity);
        long old = address();
        memory = to;
        offset = toOffset;
        usable = usableSize(newCapacity);
        view = null;
        internal = null;
        pages.freeAddress(old);
    }

    /**
     * The allocator; a released buffer holds none (see {@link #deallocate}), and refuses this as
     * any other access. (Netty's {@code ensureWritable} asks for it, to size a growth, before any
     * other check: a write past the usable size of a released buffer must fail as the others do.)
     */
    @Override
    public ByteBufAllocator alloc() {
        PagodaByteBufAllocator current = allocator;
        if (current == null) {
            throw new IllegalReferenceCountException(0);
        }
        return current;
    }

    @Override
    public ByteOrder order() {
        return ByteOrder.BIG_ENDIAN;
    }

    @Override
    public ByteBuf unwrap() {
        return null;
    }

    @Override
    public boolean isDirect() {
        return true;
    }

    @Override
    public boolean isContiguous() {
        return true;
    }

    @Override
    public boolean hasArray() {
        return false;
    }

    @Override
    public byte[] array() {
        throw new UnsupportedOperationException("a direct buffer has no backing array");
    }

    @Override
    public int arrayOffset() {
        throw new UnsupportedOperationException("a direct buffer has no backing array");
    }

    @Override
    public boolean hasMemoryAddress() {
        return false;
    }

    @Override
    public long memoryAddress() {
        throw new UnsupportedOperationException("Netty's address paths need sun.misc.Unsafe; use nioBuffer()");
    }

    // Single values, after AbstractByteBuf's index and reference checks.

    @Override
    protected byte _getByte(int index) {
        return memory.get(JAVA_BYTE, offset + index);
    }

    @Override
    protected short _getShort(int index) {
        return memory.get(SHORT_BE, offset + index);
    }

    @Override
    protected short _getShortLE(int index) {
        return memory.get(SHORT_LE, offset + index);
    }

    @Override
    protected int _getUnsignedMedium(int index) {
        long at = offset + index;
        return (memory.get(JAVA_BYTE, at) & 0xff) << 16 | memory.get(SHORT_BE, at + 1) & 0xffff;
    }

    @Override
    protected int _getUnsignedMediumLE(int index) {
        long at = offset + index;
        return memory.get(JAVA_BYTE, at) & 0xff | (memory.get(SHORT_LE, at + 1) & 0xffff) << 8;
    }

    @Override
    protected int _getInt(int index) {
        return memory.get(INT_BE, offset + index);
    }

    @Override
    protected int _getIntLE(int index) {
        return memory.get(INT_LE, offset + index);
    }

    @Override
    protected long _getLong(int index) {
        return memory.get(LONG_BE, offset + index);
    }

    @Override
    protected long _getLongLE(int index) {
        return memory.get(LONG_LE, offset + index);
    }

    @Override
    protected void _setByte(int index, int value) {
        memory.set(JAVA_BYTE, offset + index, (byte) value);
    }

    @Override
    protected void _setShort(int index, int value) {
        memory.set(SHORT_BE, offset + index, (short) value);
    }

    @Override
    protected void _setShortLE(int index, int value) {
        memory.set(SHORT_LE, offset + index, (short) value);
    }

    @Override
    protected void _setMedium(int index, int value) {
        long at = offset + index;
        memory.set(JAVA_BYTE, at, (byte) (value >>> 16));
        memory.set(SHORT_BE, at + 1, (short) value);
    }

    @Override
    protected void _setMediumLE(int index, int value) {
        long at = offset + index;
        memory.set(JAVA_BYTE, at, (byte) value);
        memory.set(SHORT_LE, at + 1, (short) (value >>> 8));
    }

    @Override
    protected void _setInt(int index, int value) {
        memory.set(INT_BE, offset + index, value);
    }

    @Override
    protected void _setIntLE(int index, int value) {
        memory.set(INT_LE, offset + index, value);
    }

    @Override
    protected void _setLong(int index, long value) {
        memory.set(LONG_BE, offset + index, value);
    }

    @Override
    protected void _setLongLE(int index, long value) {
        memory.set(LONG_LE, offset + index, value);
    }

    // Bulk copies: address to address between Pagoda buffers, else through the other side's array or ByteBuffers.

    @Override
    public ByteBuf getBytes(int index, ByteBuf dst, int dstIndex, int length) {
        checkDstIndex(index, length, dstIndex, dst.capacity());
        if (dst instanceof PagodaDirectByteBuf to) {
            to.checkIndex(dstIndex, length);
            MemorySegment.copy(memory, offset + index, to.memory, to.offset + dstIndex, length);
        } else if (dst.hasArray()) {
            MemorySegment.copy(memory, JAVA_BYTE, offset + index, dst.array(), dst.arrayOffset() + dstIndex, length);
        } else if (dst.nioBufferCount() > 0) {
            for (ByteBuffer part : dst.nioBuffers(dstIndex, length)) {
                int bytes = part.remaining();
                getBytes(index, part);
                index += bytes;
            }
        } else {
            dst.setBytes(dstIndex, this, index, length);
        }
        return this;
    }

    @Override
    public ByteBuf getBytes(int index, byte[] dst, int dstIndex, int length) {
        checkDstIndex(index, length, dstIndex, dst.length);
        MemorySegment.copy(memory, JAVA_BYTE, offset + index, dst, dstIndex, length);
        return this;
    }

    /** Fills {@code dst} from its position to its limit, and moves its position there. */
    @Override
    public ByteBuf getBytes(int index, ByteBuffer dst) {
        int length = dst.remaining();
        checkIndex(index, length);
        int position = dst.position();
        dst.put(position, view(), index, length);
        dst.position(position + length);
        return this;
    }

    @Override
    public ByteBuf getBytes(int index, OutputStream out, int length) throws IOException {
        checkIndex(index, length);
        byte[] chunk = new byte[Math.min(length, STREAM_CHUNK)];
        for (int done = 0; done < length; ) {
            int bytes = Math.min(chunk.length, length - done);
            MemorySegment.copy(memory, JAVA_BYTE, offset + index + done, chunk, 0, bytes);
            out.write(chunk, 0, bytes);
            done += bytes;
        }
        return this;
    }

    /**
     * Through a ByteBuffer of its own, not the internal one: a read may run on several threads at
     * once, through duplicates (Netty's pooled buffers take a duplicate here for the same reason).
     */
    @Override
    public int getBytes(int index, GatheringByteChannel out, int length) throws IOException {
        return out.write(nioBuffer(index, length));
    }

    @Override
    public int getBytes(int index, FileChannel out, long position, int length) throws IOException {
        return out.write(nioBuffer(index, length), position);
    }

    @Override
    public ByteBuf setBytes(int index, ByteBuf src, int srcIndex, int length) {
        checkSrcIndex(index, length, srcIndex, src.capacity());
        if (src instanceof PagodaDirectByteBuf from) {
            from.checkIndex(srcIndex, length);
            MemorySegment.copy(from.memory, from.offset + srcIndex, memory, offset + index, length);
        } else if (src.hasArray()) {
            MemorySegment.copy(src.array(), src.arrayOffset() + srcIndex, memory, JAVA_BYTE, offset + index, length);
        } else if (src.nioBufferCount() > 0) {
            for (ByteBuffer part : src.nioBuffers(srcIndex, length)) {
                int bytes = part.remaining();
                setBytes(index, part);
                index += bytes;
            }
        } else {
            src.getBytes(srcIndex, this, index, length);
        }
        return this;
    }

    @Override
    public ByteBuf setBytes(int index, byte[] src, int srcIndex, int length) {
        checkSrcIndex(index, length, srcIndex, src.length);
        MemorySegment.copy(src, srcIndex, memory, JAVA_BYTE, offset + index, length);
        return this;
    }

    /** Copies {@code src} from its position to its limit, and moves its position there. */
    @Override
    public ByteBuf setBytes(int index, ByteBuffer src) {
        int length = src.remaining();
        checkIndex(index, length);
        int position = src.position();
        view().put(index, src, position, length);
        src.position(position + length);
        return this;
    }

    /** One read of at most {@code length} bytes, as Netty's buffers do: the bytes read, or -1 at the stream's end. */
    @Override
    public int setBytes(int index, InputStream in, int length) throws IOException {
        checkIndex(index, length);
        byte[] chunk = new byte[length];
        int bytes = in.read(chunk, 0, length);
        if (bytes > 0) {
            MemorySegment.copy(chunk, 0, memory, JAVA_BYTE, offset + index, bytes);
        }
        return bytes;
    }

    /** One read, as Netty's buffers do: the bytes read, or -1 if the channel is closed. */
    @Override
    public int setBytes(int index, ScatteringByteChannel in, int length) throws IOException {
        try {
            return in.read(internalNioBuffer(index, length));
        } catch (ClosedChannelException closed) {
            return -1;
        }
    }

    @Override
    public int setBytes(int index, FileChannel in, long position, int length) throws IOException {
        try {
            return in.read(internalNioBuffer(index, length), position);
        } catch (ClosedChannelException closed) {
            return -1;
        }
    }

    /** A new buffer from the same allocator, with its own memory. */
    @Override
    public ByteBuf copy(int index, int length) {
        checkIndex(index, length);
        return allocator.directBuffer(length, maxCapacity()).writeBytes(this, index, length);
    }

    // ByteBuffer views.

    /**
     * The view over this memory's usable bytes, made on first use and kept while the memory
     * stays. Never handed out and never moved: the JDK's absolute bulk operations and slices check
     * their range against its limit, so that limit must stay {@code usable} whatever other
     * threads, or the caller's own ByteBuffer from {@link #internalNioBuffer}, do meanwhile.
     */
    private ByteBuffer view() {
        ByteBuffer v = view;
        if (v == null) {
            v = memory.asSlice(offset, usable).asByteBuffer();
            view = v;
        }
        return v;
    }

    @Override
    public int nioBufferCount() {
        return 1;
    }

    /** A new ByteBuffer over the bytes, independent of this buffer's indices and of other calls'. */
    @Override
    public ByteBuffer nioBuffer(int index, int length) {
        checkIndex(index, length);
        return view().slice(index, length);
    }

    @Override
    public ByteBuffer[] nioBuffers(int index, int length) {
        return new ByteBuffer[] {nioBuffer(index, length)};
    }

    /** The kept internal view, its position and limit set to the bytes: valid until the next call on this buffer. */
    @Override
    public ByteBuffer internalNioBuffer(int index, int length) {
        checkIndex(index, length);
        ByteBuffer v = internal;
        if (v == null) {
            v = view().duplicate();
            internal = v;
        }
        return v.clear().position(index).limit(index + length);
    }
}
