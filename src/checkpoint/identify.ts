/**
 * Recognising files that are not llama2.c checkpoints, from their first bytes, so that the error
 * can say what the file is instead of reporting nonsense dimensions. Consulted only once a header
 * has failed validation: a real v0 file may begin with any bytes (dim 640 starts like a pickle).
 */

/** What a foreign file is and what to do with it, or undefined when the signature is not known. */
export function identifyForeignFile(head: Uint8Array): string | undefined {
  const ascii = (from: number, to: number): string => String.fromCharCode(...head.subarray(from, to));
  if (head.length >= 4 && ascii(0, 4) === 'GGUF') {
    return (
      'It is a GGUF file (llama.cpp\'s format, magic "GGUF"), but this tool reads llama2.c .bin checkpoints ' +
      '(legacy v0, or versions 1 and 2 with magic "ak42"). Use the llama2.c checkpoint of the model ' +
      "(for example stories260K.bin), or export one from a PyTorch checkpoint with llama2.c's export.py."
    );
  }
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) {
    return (
      'It is a zip archive, most likely a PyTorch checkpoint (ckpt.pt, pytorch_model.bin). ' +
      "Convert it to a llama2.c .bin file with llama2.c's export.py first."
    );
  }
  if (head.length >= 2 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) {
    return (
      'It looks like a Python pickle, most likely an old-style PyTorch checkpoint. ' +
      "Convert it to a llama2.c .bin file with llama2.c's export.py first."
    );
  }
  if (head.length >= 10 && head[8] === 0x7b /* { */ && ascii(9, 10) === '"') {
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    if (view.getUint32(4, true) === 0 && view.getUint32(0, true) > 0) {
      return (
        'It looks like a safetensors file (Hugging Face). ' + "Convert the model to a llama2.c .bin file with llama2.c's export.py first."
      );
    }
  }
  return undefined;
}

/**
 * Whether the bytes look like a llama2.c tokenizer file (tokenizer.bin, tok512.bin):
 * int32 max_token_length, then per token float32 score, int32 length, bytes. When they do, returns
 * a sentence describing it (with its first tokens).
 */
export function describeIfTokenizer(head: Uint8Array): string | undefined {
  if (head.length < 4) return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const maxTokenLength = view.getInt32(0, true);
  if (maxTokenLength < 1 || maxTokenLength > 1024) return undefined;
  const tokens: string[] = [];
  let offset = 4;
  while (tokens.length < 3 && offset + 8 <= head.length) {
    const score = view.getFloat32(offset, true);
    const length = view.getInt32(offset + 4, true);
    if (!Number.isFinite(score) || length < 1 || length > maxTokenLength) return undefined;
    if (offset + 8 + length > head.length) break;
    tokens.push(String.fromCharCode(...head.subarray(offset + 8, offset + 8 + length)));
    offset += 8 + length;
  }
  if (tokens.length < 2) return undefined;
  const shown = tokens.map((t) => JSON.stringify(t)).join(', ');
  return `It looks like a llama2.c tokenizer file (max_token_length ${maxTokenLength}, first tokens ${shown}).`;
}
