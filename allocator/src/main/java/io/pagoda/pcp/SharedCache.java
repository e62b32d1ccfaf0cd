package io.pagoda.pcp;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

/**
 * A cache shared by the virtual threads whose ids hash to it, so that a million virtual threads
 * use a bounded number of caches. It is guarded by a try-lock, like the kernel's
 * {@code pcp_spin_trylock}: a thread that finds it taken does not wait, it goes to the layer below.
 * Drainers wait for the lock instead. What it holds is made at its first use: most stripes of
 * most allocators never see a virtual thread, and an allocator of many nodes has a set per node.
 */
public final class SharedCache<S> {

    private static final VarHandle LOCKED;
    private static final VarHandle STACKS;
    private static final long BACKOFF_NANOS = 20_000;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            LOCKED = lookup.findVarHandle(SharedCache.class, "locked", int.class);
            STACKS = lookup.findVarHandle(SharedCache.class, "stacks", Object.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Supplier<S> maker;
    /** What the cache holds, null until its first use: written under the lock, published by a release for racy readers. */
    private Object stacks;
    final int index;

    private int locked;
    /** Operations so far, written under the lock: for the reaper's idle check. */
    public int operations;

    // The reaper's own view, touched only under the drain lock.
    int reaperOperations;
    long reaperIdleSince;

    SharedCache(Supplier<S> maker, int index) {
        this.maker = maker;
        this.index = index;
        this.reaperIdleSince = System.nanoTime();
    }

    /** What the cache holds, made now if it never was. Only under the lock. */
    @SuppressWarnings("unchecked")
    public S stacks() {
        Object made = stacks;
        if (made == null) {
            made = maker.get();
            STACKS.setRelease(this, made);
        }
        return (S) made;
    }

    /** What the cache holds, or null if it was never used; readable without the lock (racy counters). */
    @SuppressWarnings("unchecked")
    S madeStacks() {
        return (S) STACKS.getAcquire(this);
    }

    /** Takes the lock if it is free; acquire semantics on success. */
    public boolean tryLock() {
        return LOCKED.compareAndSet(this, 0, 1);
    }

    /** Takes the lock, waiting for it (drainers only). */
    void lock() {
        for (int spins = 0; !tryLock(); spins++) {
            if (spins < 1_000) {
                Thread.onSpinWait();
            } else {
                // The holder may be a virtual thread that was unmounted (parked on a zone lock): a
                // yield may hand the carrier straight back to us, a timed park frees it for real.
                LockSupport.parkNanos(BACKOFF_NANOS);
            }
        }
    }

    /** Releases the lock, publishing the holder's writes. */
    public void unlock() {
        LOCKED.setRelease(this, 0);
    }
}
