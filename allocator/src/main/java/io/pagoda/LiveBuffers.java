package io.pagoda;

import java.lang.foreign.MemorySegment;
import java.lang.ref.WeakReference;
import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The ByteBuffers {@link PageAllocator#allocateBuffer} handed out and not yet released, by
 * address, so that a release can tell the buffer handed out from a slice, a duplicate, a buffer
 * from elsewhere or one released already. Held weakly: a buffer dropped without release can be
 * collected, and the debug mode reports it.
 *
 * <p>Invariant: an address maps to at most one buffer, from its allocation to its release; a
 * release removes it exactly once.
 */
final class LiveBuffers {

    /** The largest capacity {@link MemorySegment#asByteBuffer()} wraps: the JDK's conservative array limit. */
    static final int MAX_CAPACITY = Integer.MAX_VALUE - 8;

    private final ConcurrentHashMap<Long, WeakReference<ByteBuffer>> byAddress = new ConcurrentHashMap<>();

    /** A buffer over exactly the segment, recorded as handed out. */
    ByteBuffer handOut(MemorySegment segment) {
        ByteBuffer buffer = segment.asByteBuffer();
        byAddress.put(segment.address(), new WeakReference<>(buffer));
        return buffer;
    }

    /**
     * Takes a buffer back: the segment of its whole memory, with the scope of the segment it was
     * made from, for the allocator to free.
     *
     * @param ours whether a segment's scope is one of the allocator's (for the refusal's message)
     * @throws IllegalArgumentException if it is a heap buffer, a slice or duplicate of a buffer
     *         out, or from elsewhere
     * @throws IllegalStateException    if it was released already
     */
    MemorySegment takeBack(ByteBuffer buffer, java.util.function.Predicate<MemorySegment> ours) {
        Objects.requireNonNull(buffer, "buffer");
        if (!buffer.isDirect()) {
            throw new IllegalArgumentException("a heap buffer was not allocated by this allocator: " + buffer);
        }
        MemorySegment whole = MemorySegment.ofBuffer(buffer.duplicate().clear());
        WeakReference<ByteBuffer> handedOut = byAddress.get(whole.address());
        ByteBuffer live = handedOut == null ? null : handedOut.get();
        if (live != buffer) {
            throw refused(buffer, whole, live, ours);
        }
        if (!byAddress.remove(whole.address(), handedOut)) {
            throw new IllegalStateException("the buffer at 0x" + Long.toHexString(whole.address())
                    + " is being released by another thread");
        }
        return whole;
    }

    /** Records a buffer taken back as handed out again: its memory's free was refused. */
    void putBack(MemorySegment whole, ByteBuffer buffer) {
        byAddress.put(whole.address(), new WeakReference<>(buffer));
    }

    private static RuntimeException refused(ByteBuffer buffer, MemorySegment whole, ByteBuffer live,
                                            java.util.function.Predicate<MemorySegment> ours) {
        String at = "the buffer at 0x" + Long.toHexString(whole.address()) + " of " + buffer.capacity() + " bytes";
        if (live != null) {
            return new IllegalArgumentException(at + " is not the buffer this allocator has out there: a slice or "
                    + "duplicate of it (release that buffer itself), or a buffer released already whose memory "
                    + "was handed out again (a double release)");
        }
        if (ours.test(whole) || !whole.scope().isAlive()) {
            return new IllegalStateException(at + " is no buffer this allocator has out: it was released "
                    + "already (a double release), is a slice of one, or is memory this allocator handed out "
                    + "otherwise (a segment's asByteBuffer())");
        }
        return new IllegalArgumentException(at + " was not allocated by this allocator");
    }
}
