package io.pagoda;

import java.util.concurrent.CountDownLatch;

/** Waits for tests' helper threads, which a test stops by counting down, never by interrupting. */
final class Latches {

    private Latches() {
    }

    /** Waits until the latch reaches zero, whatever interrupts arrive meanwhile. */
    static void awaitUninterruptibly(CountDownLatch latch) {
        while (true) {
            try {
                latch.await();
                return;
            } catch (InterruptedException e) {
                // not how a test ends the wait: keep waiting
            }
        }
    }
}
