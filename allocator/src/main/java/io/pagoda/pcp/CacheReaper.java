package io.pagoda.pcp;

import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A daemon thread that calls {@link ThreadCaches#reap} on every zone's caches periodically (the
 * kernel's vmstat work that drains remote pcp lists): dead threads' caches come back without
 * anyone asking, and an idle server holds nothing in its caches after the idle timeout.
 *
 * <p>The period is a quarter of the idle timeout, between 10 ms and 1 s.
 */
public final class CacheReaper implements AutoCloseable {

    private final Thread thread;
    private volatile boolean stopped;

    public CacheReaper(String name, List<ThreadCaches> caches, long idleNanos) {
        long period = Math.clamp(idleNanos / 4, TimeUnit.MILLISECONDS.toNanos(10), TimeUnit.SECONDS.toNanos(1));
        List<ThreadCaches> all = List.copyOf(caches);
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
                for (ThreadCaches zoneCaches : all) {
                    zoneCaches.reap(now);
                }
            }
        });
        thread.start();
    }

    /** Stops the thread and waits for it: no reap runs after this returns. */
    @Override
    public void close() {
        stopped = true;
        thread.interrupt();
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
