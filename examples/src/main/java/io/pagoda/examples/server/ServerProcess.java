package io.pagoda.examples.server;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A server variant in a JVM of its own ({@link ServerMain}), on the same JDK and module path as
 * this one, with its output and GC log in a scratch directory. {@link #close()} ends it and
 * deletes the directory; if this JVM dies instead, the server sees its standard input end and
 * stops by itself.
 */
final class ServerProcess implements AutoCloseable {

    private static final long START_TIMEOUT_MILLIS = 30_000;
    private static final long STOP_TIMEOUT_SECONDS = 15;

    /** What /proc/pid/status says of the resident memory, in KiB: now and its peak. */
    record Memory(long residentKiB, long peakResidentKiB) {
    }

    private final Process process;
    private final Path directory;
    private final Path output;
    private final GcLog gcLog;
    private int port;

    private ServerProcess(Process process, Path directory, Path output, GcLog gcLog) {
        this.process = process;
        this.directory = directory;
        this.output = output;
        this.gcLog = gcLog;
    }

    /**
     * Starts {@code variant} with the server options given, and waits until it listens.
     *
     * @param jvmOptions heap size and the like, before the JVM's own options added here
     * @throws IllegalStateException if it exits or does not listen within 30 s (its output is in
     *         the message)
     */
    static ServerProcess start(Variant variant, List<String> jvmOptions, int bodyBytes, int threads) {
        Path directory;
        try {
            directory = Files.createTempDirectory("pagoda-showdown-" + variant.label() + "-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Path output = directory.resolve("server.log");
        GcLog gcLog = new GcLog(directory.resolve("gc.log"));
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmOptions);
        command.add(gcLog.jvmOption());
        command.addAll(launchOptions(ServerMain.class.getName()));
        command.addAll(List.of("--variant", variant.label(), "--port", "0",
                "--body", Integer.toString(bodyBytes), "--threads", Integer.toString(threads)));
        ServerProcess server;
        try {
            server = new ServerProcess(new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(output.toFile()).start(), directory, output, gcLog);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + command, e);
        }
        try {
            server.port = server.awaitPort();
            return server;
        } catch (RuntimeException failed) {
            server.close();
            throw failed;
        }
    }

    /**
     * How to launch a main class of this module: on the module path if this JVM runs on one (as
     * the {@code example} profile does), else on the class path.
     */
    private static List<String> launchOptions(String mainClass) {
        String modulePath = System.getProperty("jdk.module.path");
        if (modulePath != null) {
            return List.of("--enable-native-access=io.pagoda", "--module-path", modulePath,
                    "--module", ServerProcess.class.getModule().getName() + "/" + mainClass);
        }
        return List.of("--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), mainClass);
    }

    private int awaitPort() {
        long deadline = System.currentTimeMillis() + START_TIMEOUT_MILLIS;
        while (System.currentTimeMillis() < deadline) {
            for (String line : outputLines()) {
                if (line.startsWith(ServerMain.LISTENING)) {
                    return Integer.parseInt(line.substring(ServerMain.LISTENING.length()).split(" ")[0]);
                }
            }
            if (!process.isAlive()) {
                throw new IllegalStateException("the server exited with " + process.exitValue() + ":\n" + output());
            }
            sleep(50);
        }
        throw new IllegalStateException("the server did not listen within " + START_TIMEOUT_MILLIS + " ms:\n" + output());
    }

    int port() {
        return port;
    }

    long pid() {
        return process.pid();
    }

    GcLog gcLog() {
        return gcLog;
    }

    /**
     * VmRSS and VmHWM from /proc/pid/status.
     *
     * @throws IllegalStateException if the process has ended or there is no /proc
     */
    Memory memory() {
        try {
            List<String> status = Files.readAllLines(Path.of("/proc", Long.toString(process.pid()), "status"));
            return new Memory(kib(status, "VmRSS:"), kib(status, "VmHWM:"));
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the server's /proc status (Linux only)", e);
        }
    }

    private static long kib(List<String> status, String field) {
        return status.stream().filter(line -> line.startsWith(field))
                .map(line -> Long.parseLong(line.substring(field.length()).strip().split("\\s+")[0]))
                .findFirst().orElseThrow(() -> new IllegalStateException("no " + field + " in /proc status"));
    }

    /**
     * Asks the server to stop (ends its standard input) and waits for it to exit.
     *
     * @throws IllegalStateException if it does not exit cleanly within 15 s
     */
    void stop() {
        try {
            process.getOutputStream().close();
            if (!process.waitFor(STOP_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the server did not stop within " + STOP_TIMEOUT_SECONDS + " s");
            }
            if (process.exitValue() != 0) {
                throw new IllegalStateException("the server exited with " + process.exitValue() + ":\n" + output());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while the server stopped", e);
        }
    }

    /** Kills the server if it still runs, and deletes its scratch directory. */
    @Override
    public void close() {
        process.destroyForcibly();
        try {
            process.waitFor(STOP_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            try (var files = Files.list(directory)) {
                for (Path file : files.toList()) {
                    Files.delete(file);
                }
            }
            Files.delete(directory);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + directory, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private List<String> outputLines() {
        try {
            return Files.exists(output) ? Files.readAllLines(output) : List.of();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private String output() {
        return String.join("\n", outputLines());
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the server", e);
        }
    }
}
