package io.pagoda.examples.server;

import io.pagoda.PageAllocator;

import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * Where the plain NIO server takes the buffers of a request (the bytes read, the response
 * written) and where it gives them back once the response is out.
 */
interface RequestBuffers {

    ByteBuffer allocate(int capacity);

    void release(ByteBuffer buffer);

    /** Pagoda's ByteBuffer API: each buffer goes back to the allocator on release. */
    static RequestBuffers pagoda(PageAllocator pages) {
        Objects.requireNonNull(pages, "pages");
        return new RequestBuffers() {
            @Override
            public ByteBuffer allocate(int capacity) {
                return pages.allocateBuffer(capacity);
            }

            @Override
            public void release(ByteBuffer buffer) {
                pages.release(buffer);
            }
        };
    }

    /**
     * What naive code does: {@link ByteBuffer#allocateDirect} for each request. There is no way
     * to free such a buffer: its memory goes back when the garbage collector finds it unreachable
     * and its cleaner runs, and when direct memory runs short the JDK calls {@code System.gc()}.
     */
    static RequestBuffers allocateDirect() {
        return new RequestBuffers() {
            @Override
            public ByteBuffer allocate(int capacity) {
                return ByteBuffer.allocateDirect(capacity);
            }

            @Override
            public void release(ByteBuffer buffer) {
                // dropped: the garbage collector frees it
            }
        };
    }
}
