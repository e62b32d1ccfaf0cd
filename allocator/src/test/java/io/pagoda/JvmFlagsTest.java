package io.pagoda;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The allocator under the JVM flags a service may run with, each test in a child JVM started with
 * them.
 *
 * <ul>
 *   <li>{@code -XX:MaxDirectMemorySize}: the descriptor table does not count against it. An
 *       allocator backed by an FFM allocation (the only backing off Linux) must still build, and
 *       allocators built and closed one after another must not add their tables up. Both failed
 *       when the table lived in an automatic arena ({@code Arena.ofAuto()}), whose allocations
 *       the JDK counts against that limit and gives back only when the GC collects them.</li>
 *   <li>{@code --illegal-native-access=deny} without {@code --enable-native-access}: the
 *       allocator cannot work (it reaches the descriptor table through a restricted method), and
 *       must say which flag it needs.</li>
 * </ul>
 */
class JvmFlagsTest {

    /** An FFM_ARENA allocator of 64 MiB (a 512 KiB table) under a 256 KiB direct-memory limit. */
    @Test
    void shouldBuildAnFfmBackedAllocatorWhoseTableIsLargerThanTheDirectMemoryLimit() throws Exception {
        Result result = run(List.of("-XX:MaxDirectMemorySize=256k", "--enable-native-access=ALL-UNNAMED"), "one");
        assertEquals(0, result.exit(), result.output());
    }

    /**
     * 16 FFM_ARENA allocators of 64 MiB (512 KiB tables), one after the other, each closed before
     * the next is built, under a 4 MiB direct-memory limit with explicit GC disabled (as many
     * services run): the closed allocators' tables must not add up.
     */
    @Test
    void shouldNotAddUpTheTablesOfClosedAllocatorsInDirectMemory() throws Exception {
        Result result = run(List.of("-XX:MaxDirectMemorySize=4m", "-XX:+DisableExplicitGC", "-Xmx256m",
                "--enable-native-access=ALL-UNNAMED"), "many");
        assertEquals(0, result.exit(), result.output());
    }

    @Test
    void shouldNameTheFlagItNeedsWhenNativeAccessIsDenied() throws Exception {
        Result result = run(List.of("--illegal-native-access=deny"), "one");
        assertNotEquals(0, result.exit(), result.output());
        assertTrue(result.output().contains("--enable-native-access=ALL-UNNAMED"), result.output());
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
