/**
 * `export --format zephyr`: a Zephyr module: zephyr/module.yml, a CMakeLists.txt that builds the
 * library when CONFIG_LLAMA2_EMBED is set, Kconfig, and samples/generate.
 */
import { checkWeightsOption } from './esp-idf.js';
import { storyExample } from './embedded-example.js';
import { EXACT_FLOAT_FLAGS, hashComment, type LibraryFormat, type PackageInfo } from './format.js';

function cmakeLists(info: PackageInfo): string {
  return `${hashComment(info, "The Zephyr module's build: the library, when CONFIG_LLAMA2_EMBED=y.")}
if(CONFIG_LLAMA2_EMBED)
  zephyr_library_named(llama2_embed)
  zephyr_library_sources(
${info.sources.map((s) => `    src/${s}`).join('\n')}
  )
  zephyr_include_directories(include)
  zephyr_library_include_directories(src)
  # llama2.c's float32 results need these
  zephyr_library_compile_options(${EXACT_FLOAT_FLAGS.join(' ')})
  if(NOT CONFIG_LLAMA2_EMBED_CHECK_WEIGHTS)
    zephyr_library_compile_definitions(L2E_SKIP_WEIGHTS_CHECK)
  endif()
endif()
`;
}

function kconfig(): string {
  return `config LLAMA2_EMBED
\tbool "llama2-embed: a llama2.c model as a C library"
\thelp
\t  The model compiled in, behind llama2_embed.h (l2e_init, l2e_generate...).

if LLAMA2_EMBED

${checkWeightsOption()}
endif
`;
}

function sample(info: PackageInfo): Record<string, string> {
  return {
    'samples/generate/CMakeLists.txt': `${hashComment(info, 'The sample: tells a story at start-up on the console.')}cmake_minimum_required(VERSION 3.20.0)
list(APPEND ZEPHYR_EXTRA_MODULES \${CMAKE_CURRENT_SOURCE_DIR}/../..)
find_package(Zephyr REQUIRED HINTS $ENV{ZEPHYR_BASE})
project(generate)
target_sources(app PRIVATE src/main.c)
`,
    'samples/generate/prj.conf': `CONFIG_LLAMA2_EMBED=y
CONFIG_MAIN_STACK_SIZE=4096
`,
    'samples/generate/sample.yaml': `sample:
  name: llama2-embed generate
  description: Tells a story with ${info.modelName} on the console
tests:
  sample.llama2_embed.generate:
    tags: llama2_embed
    harness: console
    harness_config:
      type: one_line
      regex:
        - "Once upon a time"
`,
    'samples/generate/src/main.c': storyExample({
      header: `/* Tells a story with ${info.modelName} at start-up on the Zephyr console. */`,
      includes: ['<stdio.h>'],
      entry: 'int main(void)',
      print: 'printf("%s", TEXT)',
      end: 'return 0;',
    }),
  };
}

export const zephyrFormat: LibraryFormat = {
  name: 'zephyr',
  description: 'a Zephyr module: zephyr/module.yml, CMakeLists.txt, Kconfig, samples/generate/',
  includeDir: 'include',
  srcDir: 'src',
  packageFiles: (info) => ({
    'zephyr/module.yml': `${hashComment(info, 'A Zephyr module: add this directory to ZEPHYR_EXTRA_MODULES (or to your west manifest).')}name: llama2_embed
build:
  cmake: .
  kconfig: Kconfig
`,
    'CMakeLists.txt': cmakeLists(info),
    Kconfig: kconfig(),
    ...sample(info),
  }),
};
