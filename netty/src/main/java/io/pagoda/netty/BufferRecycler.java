package io.pagoda.netty;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One platform thread's released {@link PagodaDirectByteBuf} objects, kept for its next
 * allocations: a stack only the owner touches, and a chain onto which other threads push the
 * owner's buffers they release. Holds objects only: their memory is back in Pagoda before they
 * arrive here.
 *
 * <p>Invariants: a buffer lives in its maker's recycler only (it never moves to another thread's);
 * it is in at most one place at a time (in use, on the stack, or on the chain), since its count
 * reaches zero once per life; the stack and the chain each hold at most {@link #MAX_KEPT}
 * buffers, and what would exceed that is left to the GC.
 *
 * <p>The chain is a Treiber stack linked through the buffers themselves
 * ({@link PagodaDirectByteBuf#nextReturned}), so a release from another thread allocates
 * nothing: any thread pushes with a CAS, and only the owner takes, the whole chain at once with
 * a swap to null. A taker that never pops single nodes has no ABA problem. If the owner dies,
 * the recycler and everything on it become garbage together.
 */
final class BufferRecycler {

    /**
     * Buffers kept on the stack, and on the chain: at about 200 heap bytes a buffer with its
     * view, 256 of each bound an idle thread's keep to about 100 KiB, and cover the buffers a
     * busy event loop has in flight at once.
     */
    static final int MAX_KEPT = 256;

    private static final VarHandle RETURNED;

    static {
        try {
            RETURNED = MethodHandles.lookup().findVarHandle(BufferRecycler.class, "returned", PagodaDirectByteBuf.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Thread owner = Thread.currentThread();
    private final PagodaDirectByteBuf[] stack = new PagodaDirectByteBuf[MAX_KEPT];
    private int size;
    /** The top of the chain of buffers other threads released; read and written through {@link #RETURNED} only. */
    @SuppressWarnings("unused")
    private volatile PagodaDirectByteBuf returned;

    /** For the calling thread only: the recycler its allocations take from and its releases give back to. */
    BufferRecycler() {
    }

    /** A released buffer to reuse, or null if there is none. Owner only. */
    PagodaDirectByteBuf take() {
        assert Thread.currentThread() == owner;
        if (size == 0 && !takeReturned()) {
            return null;
        }
        PagodaDirectByteBuf buffer = stack[--size];
        stack[size] = null;
        return buffer;
    }

    /** Moves the chain onto the empty stack; false if the chain was empty. */
    private boolean takeReturned() {
        // Acquire, pairing with the pushers' CAS (a release): the fields each one wrote before
        // its push, the buffer's link and its deallocated state, are visible from here on.
        PagodaDirectByteBuf chain = (PagodaDirectByteBuf) RETURNED.getAndSet(this, null);
        while (chain != null && size < MAX_KEPT) {
            PagodaDirectByteBuf next = chain.nextReturned;
            chain.nextReturned = null;
            stack[size++] = chain;
            chain = next;
        }
        // The chain's length bound is racy (see giveBack): anything beyond the stack is dropped.
        return size > 0;
    }

    /** Keeps a released buffer of this recycler's, from any thread. */
    void giveBack(PagodaDirectByteBuf buffer) {
        if (Thread.currentThread() == owner) {
            if (size < MAX_KEPT) {
                stack[size++] = buffer;
            }
            return;
        }
        for (;;) {
            PagodaDirectByteBuf top = (PagodaDirectByteBuf) RETURNED.getAcquire(this);
            // Racy but benign: if top was taken and pushed again since it was read, its length
            // may be stale; takeReturned stops at the stack's size whatever the chain holds.
            int length = top == null ? 1 : top.returnedChainLength + 1;
            if (length > MAX_KEPT) {
                return;
            }
            buffer.nextReturned = top;
            buffer.returnedChainLength = length;
            if (RETURNED.compareAndSet(this, top, buffer)) {
                return;
            }
        }
    }
}
