/**
 * The example of the microcontroller ecosystems: tell a story once at start-up and print it as it
 * comes, through the ecosystem's own console (`print` is its C call that prints the string TEXT).
 */
export function storyExample(opts: {
  header: string;
  includes: string[];
  entry: string;
  start?: string;
  print: string;
  end?: string;
}): string {
  return `${opts.header}
${opts.includes.map((i) => `#include ${i}`).join('\n')}

#include "llama2_embed.h"

/* Called with each token's text as it is generated; returning non-zero would stop the story. */
static int print_piece(const char *piece, int token, void *user) {
    (void)token;
    (void)user;
    ${opts.print.replace('TEXT', 'piece')};
    return 0;
}

${opts.entry} {
${opts.start ? `    ${opts.start}\n` : ''}    int status = l2e_init(); /* checks the weights: one pass over them */
    if (status != L2E_OK) {
        ${opts.print.replace('TEXT', 'l2e_strerror(status)')};
${opts.end ? `        ${opts.end}\n` : '        return;\n'}    }
    l2e_params params = {0, 0.0f, 0.0f, 0}; /* llama2.c's defaults: 256 steps, temperature 1.0, top-p 0.9; seed 42 */
    ${opts.print.replace('TEXT', '"Once upon a time"')};
    int generated = l2e_generate("Once upon a time", &params, print_piece, 0);
    ${opts.print.replace('TEXT', '"\\n"')};
    if (generated < 0) ${opts.print.replace('TEXT', 'l2e_strerror(generated)')};
${opts.end ? `    ${opts.end}\n` : ''}}
`;
}
