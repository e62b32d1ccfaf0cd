package io.pagoda.pcp;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;

/**
 * A cache shared by the virtual threads whose ids hash to it, so that a million virtual threads
 * use a bounded number of caches. It is guarded by a try-lock, like the kernel's
 * {@code pcp_spin_trylock}: a thread that finds it taken does not wait, it goes to the layer below.
 * Drainers wait for the lock instead.
 */
public final class SharedCache<S> {

    private static final VarHandle LOCKED;
    private static final long BACKOFF_NANOS = 20_000;

    static {
        try {
            LOCKED = MethodHandles.lookup().findVarHandle(SharedCache.class, "locked", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** What the cache holds: touched only under the lock. */
    public final S stacks;
    final int index;

    private int locked;
    /** Operations so far, written under the lock: for the reaper's idle check. */
    public int operations;

    // The reaper's own view, touched only under the drain lock.
    int reaperOperations;
    long reaperIdleSince;

    SharedCache(S stacks, int index) {
        this.stacks = stacks;
        this.index = index;
        this.reaperIdleSince = System.nanoTime();
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
