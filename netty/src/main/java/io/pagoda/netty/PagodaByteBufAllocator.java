package io.pagoda.netty;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledDirectByteBuf;
import io.netty.buffer.UnpooledHeapByteBuf;
import io.netty.util.internal.CleanableDirectBuffer;
import io.pagoda.PageAllocator;

import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * A Netty {@link io.netty.buffer.ByteBufAllocator} whose direct buffers are Pagoda memory: each
 * buffer's memory comes from {@link PageAllocator#allocateBuffer(int)}, and goes back with
 * {@link PageAllocator#release(ByteBuffer)} when the buffer's reference count falls to zero (or
 * when it grows, for the memory it leaves). Heap buffers are Netty's own unpooled ones; composite
 * buffers, capacity growth and reference counting are Netty's.
 *
 * {@snippet lang=java :
 * PageAllocator pages = PageAllocator.builder().capacity(64L << 30).build();
 * ServerBootstrap bootstrap = new ServerBootstrap()
 *         .option(ChannelOption.ALLOCATOR, new PagodaByteBufAllocator(pages))
 *         .childOption(ChannelOption.ALLOCATOR, new PagodaByteBufAllocator(pages));
 * }
 *
 * <p>The allocator must stay open while any of its buffers is in use. Netty's leak detector
 * works as for any allocator (its default, SIMPLE, samples one buffer in 128).
 */
public final class PagodaByteBufAllocator extends AbstractByteBufAllocator {

    private final PageAllocator pages;

    /** Direct buffers by default, as Netty's pooled allocators hand out. */
    public PagodaByteBufAllocator(PageAllocator pages) {
        super(true);
        this.pages = Objects.requireNonNull(pages, "pages");
    }

    /** The allocator the buffers' memory comes from. */
    public PageAllocator pages() {
        return pages;
    }

    @Override
    protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
        return new UnpooledHeapByteBuf(this, initialCapacity, maxCapacity);
    }

    @Override
    protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
        return toLeakAwareBuffer(new PagodaDirectByteBuf(this, initialCapacity, maxCapacity));
    }

    /** Pagoda keeps its direct memory, as a pool does. */
    @Override
    public boolean isDirectBufferPooled() {
        return true;
    }

    /** Netty's unpooled direct buffer over memory from Pagoda, given back when it is freed. */
    private static final class PagodaDirectByteBuf extends UnpooledDirectByteBuf {

        PagodaDirectByteBuf(PagodaByteBufAllocator allocator, int initialCapacity, int maxCapacity) {
            super(allocator, initialCapacity, maxCapacity);
        }

        /** Called by the constructor and on growth; {@code alloc()} is set before either. */
        @Override
        protected CleanableDirectBuffer allocateDirectBuffer(int capacity) {
            PageAllocator pages = ((PagodaByteBufAllocator) alloc()).pages;
            ByteBuffer buffer = pages.allocateBuffer(capacity);
            return new CleanableDirectBuffer() {
                @Override
                public ByteBuffer buffer() {
                    return buffer;
                }

                @Override
                public void clean() {
                    pages.release(buffer);
                }
            };
        }
    }
}
