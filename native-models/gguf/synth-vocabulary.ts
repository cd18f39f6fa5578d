/** llama.cpp's token attributes as stored in `tokenizer.ggml.token_type`. */
export const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** A SentencePiece-style vocabulary ready for `tokenizer.ggml.*`. */
export interface SynthVocabulary {
    tokens: string[];
    scores: number[];
    types: number[];
    unknownId: number;
    bosId: number;
    eosId: number;
}

/** The ChatML markers; llama.cpp treats a token spelled `<|im_end|>` as an end of generation. */
export const chatMarkers = { start: "<|im_start|>", end: "<|im_end|>" } as const;

/**
 * ChatML, spelled exactly as node-llama-cpp's ChatML wrapper renders it, so `resolveChatWrapper`
 * recognises the template and picks its native ChatML wrapper instead of running Jinja.
 */
export const chatMlTemplate =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const spaceMarker = "\u2581";

// Words of simple English stories; each becomes "▁word" plus the prefixes that SentencePiece's
// pairwise merges need on the way ("▁w", "▁wo", …), so whole words tokenize to one piece.
const words = (
    "the a an and to was he she it in of his her they said with on for you that had day time one big little " +
    "girl boy play happy mom dad friend dog cat tree sun saw went very wanted could not so but is are be all " +
    "up out there what we can do go see like look help toy ball park home once upon named lily tim ben red " +
    "blue good new sad fun run jump asked smiled loved found made came back away together bird fish water " +
    "sky car box "
).trim().split(/\s+/);

// Pieces that end words, merged left to right inside a word ("ing" needs "in").
const suffixes = ["in", "ing", "ed", "er", "ly", "es", "en", "on", "an", "at", "ou", "th", "he", "st"];

/**
 * Builds the synthetic vocabulary: `<unk>`=0, `<s>`=1, `</s>`=2, the 256 byte-fallback tokens
 * `<0x00>`…`<0xFF>` (type BYTE, so any text tokenizes), "▁", printable ASCII characters, a few hundred
 * word pieces, and the two ChatML control tokens last. Scores fall with the index, as in a
 * SentencePiece model, so shorter pieces merge first.
 */
export function buildSynthVocabulary(): SynthVocabulary {
    const tokens: string[] = [];
    const scores: number[] = [];
    const types: number[] = [];
    const seen = new Set<string>();
    const add = (text: string, type: number, score: number) => {
        if (seen.has(text)) return;
        seen.add(text);
        tokens.push(text);
        types.push(type);
        scores.push(score);
    };
    add("<unk>", TokenType.UNKNOWN, 0);
    add("<s>", TokenType.CONTROL, 0);
    add("</s>", TokenType.CONTROL, 0);
    for (let byte = 0; byte < 256; byte++) add(`<0x${byte.toString(16).toUpperCase().padStart(2, "0")}>`, TokenType.BYTE, 0);

    const pieces: string[] = [spaceMarker];
    for (let code = 0x21; code < 0x7f; code++) pieces.push(String.fromCharCode(code));
    for (const suffix of suffixes) for (let end = 2; end <= suffix.length; end++) pieces.push(suffix.slice(0, end));
    for (const word of words) {
        const piece = spaceMarker + word;
        for (let end = 2; end <= piece.length; end++) pieces.push(piece.slice(0, end));
    }
    let rank = 0;
    for (const piece of pieces) if (!seen.has(piece)) add(piece, TokenType.NORMAL, -rank++);

    add(chatMarkers.start, TokenType.CONTROL, 0);
    add(chatMarkers.end, TokenType.CONTROL, 0);
    return { tokens, scores, types, unknownId: 0, bosId: 1, eosId: 2 };
}
