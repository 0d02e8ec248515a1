/**
 * `export --format esp-idf`: an ESP-IDF component: CMakeLists.txt (idf_component_register),
 * idf_component.yml for the component manager, Kconfig (menuconfig's options), and an example
 * project that uses it as a local dependency.
 */
import { storyExample } from './embedded-example.js';
import { EXACT_FLOAT_FLAGS, hashComment, type LibraryFormat, type PackageInfo } from './format.js';

function cmakeLists(info: PackageInfo): string {
  return `${hashComment(info, "An ESP-IDF component: put this directory in your project's components/ (or depend on it in idf_component.yml).")}
idf_component_register(
  SRCS ${info.sources.map((s) => `"src/${s}"`).join(' ')}
  INCLUDE_DIRS "include"
  PRIV_INCLUDE_DIRS "src"
)
# llama2.c's float32 results need these (the ESP32's FPU has a fused multiply-add)
target_compile_options(\${COMPONENT_LIB} PRIVATE ${EXACT_FLOAT_FLAGS.join(' ')})
if(NOT CONFIG_LLAMA2_EMBED_CHECK_WEIGHTS)
  target_compile_definitions(\${COMPONENT_LIB} PRIVATE L2E_SKIP_WEIGHTS_CHECK)
endif()
`;
}

/** idf_component.yml, the ESP-IDF component manager's manifest for the exported component. */
export function componentManifest(info: PackageInfo): string {
  return `${hashComment(info, "The ESP-IDF component manager's manifest.")}version: "${info.version}"
description: "The llama2.c model ${info.modelName} as a C library (${info.summary.quant}): generate text with no heap."
url: "https://github.com/karpathy/llama2.c"
license: "MIT"
dependencies:
  idf: ">=4.4"
`;
}

/** The Kconfig options, shared with Zephyr's (the same option, the same meaning). */
export function checkWeightsOption(indent = '\t'): string {
  return `config LLAMA2_EMBED_CHECK_WEIGHTS
${indent}bool "Check the weights when l2e_init() runs"
${indent}default y
${indent}help
${indent}  l2e_init() hashes the weights (one read of all of them) and refuses
${indent}  a blob that is not the one the library was exported with. Turn it off
${indent}  to start faster; the size is still checked.
`;
}

function kconfig(): string {
  return `menu "llama2-embed"

${checkWeightsOption()}
endmenu
`;
}

function exampleProject(info: PackageInfo): Record<string, string> {
  return {
    'examples/generate/CMakeLists.txt': `${hashComment(info, 'The example: tells a story at start-up on the console.')}cmake_minimum_required(VERSION 3.16)
include($ENV{IDF_PATH}/tools/cmake/project.cmake)
project(generate)
`,
    'examples/generate/main/CMakeLists.txt': 'idf_component_register(SRCS "main.c" PRIV_REQUIRES llama2_embed)\n',
    'examples/generate/main/idf_component.yml': `dependencies:
  llama2_embed:
    path: ../../..
`,
    'examples/generate/main/main.c': storyExample({
      header: `/* Tells a story with ${info.modelName} at start-up on the ESP-IDF console. */`,
      includes: ['<stdio.h>'],
      entry: 'void app_main(void)',
      print: 'printf("%s", TEXT)',
    }),
  };
}

export const espIdfFormat: LibraryFormat = {
  name: 'esp-idf',
  description: 'an ESP-IDF component: idf_component_register, idf_component.yml, Kconfig, examples/generate/',
  includeDir: 'include',
  srcDir: 'src',
  packageFiles: (info) => ({
    'CMakeLists.txt': cmakeLists(info),
    'idf_component.yml': componentManifest(info),
    Kconfig: kconfig(),
    ...exampleProject(info),
  }),
};
