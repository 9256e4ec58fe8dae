import type { Command } from "commander";

/**
 * An `Examples:` section at the end of a command's help, the habit kubectl, npm and gh teach:
 * the quickest way to learn a command is a line that works.
 */
export function examples(command: Command, lines: readonly string[]): Command {
  return command.addHelpText("after", `\nExamples:\n${lines.map((l) => `  ${l}`).join("\n")}`);
}
