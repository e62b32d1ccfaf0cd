package io.pagoda.pcp;

import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;

/**
 * A daemon thread that reaps every layer's per-thread caches periodically ({@link ThreadCaches#reap}
 * for each zone's, and the object magazines' above them; the kernel's vmstat work that drains
 * remote pcp lists): dead threads' caches come back without anyone asking, and an idle server
 * holds nothing in its caches after the idle timeout.
 *
 * <p>The period is a quarter of the idle timeout, between 10 ms and 1 s.
 */
public final class CacheReaper implements AutoCloseable {

    private final Thread thread;
    private volatile boolean stopped;

    /** @param reapers called in order with the current {@link System#nanoTime()}, each period */
    public CacheReaper(String name, List<LongConsumer> reapers, long idleNanos) {
        long period = periodNanos(idleNanos);
        List<LongConsumer> all = List.copyOf(reapers);
        this.thread = Thread.ofPlatform().name(name).daemon().unstarted(() -> {
            while (!stopped) {
                try {
                    TimeUnit.NANOSECONDS.sleep(period);
                } catch (InterruptedException e) {
                    return;
                }
                if (stopped) {
                    return;
                }
                long now = System.nanoTime();
                for (LongConsumer reaper : all) {
                    reaper.accept(now);
                }
            }
        });
        thread.start();
    }

    /** The period for an idle timeout: a quarter of it, between 10 ms and 1 s. */
    public static long periodNanos(long idleNanos) {
        return Math.clamp(idleNanos / 4, TimeUnit.MILLISECONDS.toNanos(10), TimeUnit.SECONDS.toNanos(1));
    }

    /** Stops the thread and waits for it: no reap runs after this returns. */
    @Override
    public void close() {
        stopped = true;
        thread.interrupt();
        joinUninterruptibly(thread);
    }

    /**
     * Waits until {@code thread} ends, even if the caller is interrupted meanwhile (its interrupt
     * status is set again afterwards): a close must not return while its thread still runs.
     */
    public static void joinUninterruptibly(Thread thread) {
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
