package io.pagoda.examples.db;

import io.pagoda.PageAllocator;

import java.time.Duration;
import java.util.Arrays;
import java.util.stream.Collectors;

/** The back ends a benchmark run can name on its command line, each opening a {@link Storage}. */
enum Backend {
    PAGODA("pagoda"),
    JDK_ARENA("jdk-arena"),
    HEAP("heap");

    /** Address space only: mmap(MAP_NORESERVE) costs no memory until it is touched. */
    private static final long PAGODA_CAPACITY = 64L << 30;

    private final String label;

    Backend(String label) {
        this.label = label;
    }

    String label() {
        return label;
    }

    /** A new storage of this kind; closing it gives back what it holds (Pagoda's allocator). */
    Storage open() {
        return switch (this) {
            case PAGODA -> {
                // A database that drops a table wants its memory back soon: free 2 MiB blocks go
                // back to the kernel after 1 s, not the default 10 s.
                PageAllocator pages = PageAllocator.builder().capacity(PAGODA_CAPACITY).purgeDecay(Duration.ofSeconds(1)).build();
                Storage arenas = Storage.pagoda(pages);
                yield new Storage() {
                    @Override
                    public RecordMemory newSegmentMemory() {
                        return arenas.newSegmentMemory();
                    }

                    @Override
                    public void close() {
                        pages.close();
                    }
                };
            }
            case JDK_ARENA -> Storage.jdkArena();
            case HEAP -> Storage.heap();
        };
    }

    /** The back end of a label, such as {@code pagoda}. */
    static Backend of(String label) {
        for (Backend backend : values()) {
            if (backend.label.equals(label)) {
                return backend;
            }
        }
        throw new IllegalArgumentException("no back end '" + label + "'; the back ends are "
                + Arrays.stream(values()).map(Backend::label).collect(Collectors.joining(", ")));
    }
}
