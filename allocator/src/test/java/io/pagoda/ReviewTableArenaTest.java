package io.pagoda;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Review of 03301f3 (the descriptor table in an automatic arena). Each test runs a small program
 * in a child JVM with the flags under test, and expects it to succeed.
 *
 * <p>BUG DEMONSTRATIONS: both tests FAIL on 03301f3 and pass on its parent (df2eade).
 * {@code Arena.ofAuto().allocate} is accounted against {@code -XX:MaxDirectMemorySize} (a shared
 * arena's allocation is not), and is given back only when the GC collects the arena, so with
 * Backing.FFM_ARENA (the only backing off Linux) the descriptor table now needs direct memory,
 * and a closed allocator's table keeps it until a GC.
 */
class ReviewTableArenaTest {

    /** An FFM_ARENA allocator of 64 MiB (a 512 KiB table) under a 256 KiB direct-memory limit. */
    @Test
    void ffmArenaAllocatorShouldNotBeBoundByMaxDirectMemorySize() throws Exception {
        Result result = run(List.of("-XX:MaxDirectMemorySize=256k", "--enable-native-access=ALL-UNNAMED"), "one");
        assertEquals(0, result.exit(), result.output());
    }

    /**
     * 16 FFM_ARENA allocators of 64 MiB (512 KiB tables), one after the other, each closed before
     * the next is built, under a 4 MiB direct-memory limit with explicit GC disabled (as many
     * services run): the closed allocators' tables must not add up.
     */
    @Test
    void closedFfmArenaAllocatorsShouldNotExhaustDirectMemory() throws Exception {
        Result result = run(List.of("-XX:MaxDirectMemorySize=4m", "-XX:+DisableExplicitGC", "-Xmx256m",
                "--enable-native-access=ALL-UNNAMED"), "many");
        assertEquals(0, result.exit(), result.output());
    }

    private record Result(int exit, String output) {
    }

    private static Result run(List<String> flags, String mode) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(flags);
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(Child.class.getName());
        command.add(mode);
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "child JVM timed out");
        return new Result(process.exitValue(), output);
    }

    /** The child JVM's program. */
    public static final class Child {
        public static void main(String[] args) {
            int allocators = args[0].equals("many") ? 16 : 1;
            for (int i = 0; i < allocators; i++) {
                try (PageAllocator pages = PageAllocator.builder().capacity(64L << 20)
                        .backing(PageAllocator.Backing.FFM_ARENA).build()) {
                    pages.freeAddress(pages.allocateAddress(100));
                }
            }
            System.out.println("ok");
        }
    }
}
