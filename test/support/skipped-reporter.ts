import type { Reporter, TestModule } from "vitest/node";

/**
 * Lists every skipped test at the end of a run, with its reason: the note
 * given to `context.skip(note)`, or the reason its (describe) name carries
 * ("… (skipped: psql is not installed)"). Vitest's default reporter prints
 * only "9 skipped" for a passing file, which says nothing of why.
 */
export default class SkippedReasonsReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const lines: string[] = [];
    for (const module of testModules) {
      for (const test of module.children.allTests("skipped")) {
        if (test.options.mode === "todo") continue;
        const result = test.result();
        const note = "note" in result ? result.note : undefined;
        lines.push(
          `  ${module.moduleId.replace(`${process.cwd()}/`, "")} > ${test.fullName}${note ? ` [${note}]` : ""}`,
        );
      }
    }
    if (lines.length > 0) console.log(`\nSkipped, with the reason:\n${lines.join("\n")}\n`);
  }
}
