/*
 * ghcpw-merged-exec PROGRAM [ARG...]: runs PROGRAM with its stderr on its stdout and nothing else changed
 * (arguments, environment, working directory, other descriptors). A server runs the real ghc through it
 * when a client's stdout and stderr are one file: Deno pipes a child's two streams apart, which loses
 * their order, and a shell's `2>&1` would change what ghc sees (dash sets PWD and IFS).
 */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs("usage: ghcpw-merged-exec PROGRAM [ARG...]\n", stderr);
        return 2;
    }
    if (dup2(STDOUT_FILENO, STDERR_FILENO) < 0) {
        perror("ghcpw-merged-exec: dup2");
        return 127;
    }
    execvp(argv[1], argv + 1);
    /* As a shell reports a command it cannot run. */
    perror(argv[1]);
    return 127;
}
