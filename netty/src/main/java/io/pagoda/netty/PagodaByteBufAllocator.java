package io.pagoda.netty;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledHeapByteBuf;
import io.pagoda.PageAllocator;

import java.util.Objects;

/**
 * A Netty {@link io.netty.buffer.ByteBufAllocator} whose direct buffers are Pagoda memory: each
 * buffer's memory comes from {@link PageAllocator#allocateAddress(long)}, and goes back with
 * {@link PageAllocator#freeAddress(long)} when the buffer's reference count falls to zero (or
 * when it grows past its usable size, for the memory it leaves). The ByteBuf objects are recycled
 * too, per platform thread ({@link BufferRecycler}), so a steady allocate-release cycle costs no
 * heap; a buffer released on another thread goes back to the thread that made it. Heap buffers
 * are Netty's own unpooled ones; composite buffers, slices, duplicates and reference counting are
 * Netty's.
 *
 * {@snippet lang=java :
 * PageAllocator pages = PageAllocator.builder().capacity(64L << 30).build();
 * ServerBootstrap bootstrap = new ServerBootstrap()
 *         .option(ChannelOption.ALLOCATOR, new PagodaByteBufAllocator(pages))
 *         .childOption(ChannelOption.ALLOCATOR, new PagodaByteBufAllocator(pages));
 * }
 *
 * <p>Netty's leak detector works as for any allocator (its default, SIMPLE, samples one buffer in
 * 128). Buffers read and write their memory through the segment that holds it
 * ({@link PageAllocator#memoryOf}), so a buffer, or a ByteBuffer view of it, used after the
 * allocator was closed throws {@link IllegalStateException} instead of crashing the JVM (and so
 * does a view of a buffer larger than the largest block after its release, whose mapping is then
 * gone). As with Netty's pooled buffers, a buffer used after its last release throws
 * {@link io.netty.util.IllegalReferenceCountException} until its object is reused, and then
 * reaches the new owner's bytes.
 */
public final class PagodaByteBufAllocator extends AbstractByteBufAllocator {

    private final PageAllocator pages;
    /** Each platform thread's released buffer objects; virtual threads have none (see {@link #newDirectBuffer}). */
    private final ThreadLocal<BufferRecycler> recyclers = ThreadLocal.withInitial(BufferRecycler::new);

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

    /**
     * A recycled buffer object of this thread's if there is one, else a new one. Virtual threads
     * make a new one each time (the GC takes it back): a recycler per virtual thread would be
     * kept as long as the thread lives and rarely used again.
     */
    @Override
    protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
        BufferRecycler recycler = Thread.currentThread().isVirtual() ? null : recyclers.get();
        PagodaDirectByteBuf buffer = recycler == null ? null : recycler.take();
        if (buffer == null) {
            buffer = new PagodaDirectByteBuf(recycler);
        }
        buffer.reuse(this, initialCapacity, maxCapacity); // if it throws, the object is dropped
        return toLeakAwareBuffer(buffer);
    }

    /** Pagoda keeps its direct memory, as a pool does. */
    @Override
    public boolean isDirectBufferPooled() {
        return true;
    }
}
