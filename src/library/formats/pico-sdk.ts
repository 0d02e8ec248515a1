/**
 * `export --format pico-sdk`: a CMake INTERFACE library for the Raspberry Pi Pico SDK (the SDK's
 * own convention: the sources compile with the application's settings), linked to pico_stdlib,
 * and an example that tells a story over the SDK's stdio (USB by default).
 */
import { storyExample } from './embedded-example.js';
import { EXACT_FLOAT_FLAGS, hashComment, type LibraryFormat, type PackageInfo } from './format.js';

function cmakeLists(info: PackageInfo): string {
  return `${hashComment(info, 'pico-sdk: add_subdirectory() this directory, then target_link_libraries(your_app llama2_embed).')}
cmake_minimum_required(VERSION 3.13)

add_library(llama2_embed INTERFACE)
target_sources(llama2_embed INTERFACE
${info.sources.map((s) => `  \${CMAKE_CURRENT_LIST_DIR}/src/${s}`).join('\n')}
)
target_include_directories(llama2_embed INTERFACE \${CMAKE_CURRENT_LIST_DIR}/include)
# llama2.c's float32 results need these (the library's l2e_private.h says so to GCC as well)
target_compile_options(llama2_embed INTERFACE ${EXACT_FLOAT_FLAGS.join(' ')})
target_link_libraries(llama2_embed INTERFACE pico_stdlib)
`;
}

function exampleCmake(info: PackageInfo): string {
  return `${hashComment(info, 'The example: a firmware that tells a story over USB at start-up. PICO_SDK_PATH must point to the SDK.')}
cmake_minimum_required(VERSION 3.13)
include($ENV{PICO_SDK_PATH}/external/pico_sdk_import.cmake)
project(generate C CXX ASM)
pico_sdk_init()

add_subdirectory(../.. llama2_embed)
add_executable(generate main.c)
target_link_libraries(generate llama2_embed pico_stdlib)
pico_enable_stdio_usb(generate 1)
pico_enable_stdio_uart(generate 0)
pico_add_extra_outputs(generate)
`;
}

export const picoSdkFormat: LibraryFormat = {
  name: 'pico-sdk',
  description: 'Raspberry Pi Pico SDK: a CMake INTERFACE library linked to pico_stdlib (default: Q8_0 weights, integer arithmetic)',
  includeDir: 'include',
  srcDir: 'src',
  defaults: { quant: 'q8_0', arithmetic: 'integer' },
  packageFiles: (info) => ({
    'CMakeLists.txt': cmakeLists(info),
    'examples/generate/CMakeLists.txt': exampleCmake(info),
    'examples/generate/main.c': storyExample({
      header: `/* Tells a story at start-up over the Pico SDK's stdio (USB), with ${info.modelName}. */`,
      includes: ['<stdio.h>', '"pico/stdlib.h"'],
      entry: 'int main(void)',
      start: 'stdio_init_all();\n    sleep_ms(2000); /* time for the computer to open the USB serial port */',
      print: 'printf("%s", TEXT)',
      end: 'for (;;) tight_loop_contents();',
    }),
  }),
};
