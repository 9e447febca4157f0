// An MCP tool result as tool_result content: what Claude can take goes as blocks, what it cannot is named in text
// (so the model knows something was there), and structured content goes as JSON text.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { ToolResultContent } from '../activities/types';

type Block = Exclude<ToolResultContent, string>[number];
type McpContent = CallToolResult['content'][number];

/** The image types the Messages API takes in a tool_result. */
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);

function base64Bytes(data: string): number {
  return Math.floor((data.replace(/=+$/, '').length * 3) / 4);
}

function image(data: string, mimeType: string, what: string): Block {
  if (IMAGE_TYPES.has(mimeType)) {
    return { type: 'image', source: { type: 'base64', media_type: mimeType as 'image/png', data } };
  }
  return { type: 'text', text: `[${what} of type ${mimeType} omitted: Claude takes JPEG, PNG, GIF and WebP images]` };
}

function blob(uri: string, mimeType: string | undefined, data: string): Block {
  if (mimeType && IMAGE_TYPES.has(mimeType)) return image(data, mimeType, `image resource ${uri}`);
  if (mimeType === 'application/pdf') {
    return { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data }, title: uri };
  }
  return { type: 'text', text: `[resource ${uri} (${mimeType ?? 'binary'}, ${base64Bytes(data)} bytes) omitted: Claude cannot read this type in a tool result]` };
}

function blockOf(item: McpContent): Block {
  switch (item.type) {
    case 'text':
      return { type: 'text', text: item.text };
    case 'image':
      return image(item.data, item.mimeType, 'image');
    case 'audio':
      // The Messages API has no audio input: the model is told what it did not get rather than shown nothing.
      return { type: 'text', text: `[audio (${item.mimeType}, ${base64Bytes(item.data)} bytes) omitted: Claude cannot take audio in a tool result]` };
    case 'resource': {
      const { resource } = item;
      if ('text' in resource && typeof resource.text === 'string') {
        return { type: 'text', text: `Resource ${resource.uri}${resource.mimeType ? ` (${resource.mimeType})` : ''}:\n${resource.text}` };
      }
      return blob(resource.uri, resource.mimeType, (resource as { blob: string }).blob);
    }
    case 'resource_link': {
      const details = [item.mimeType, item.description].filter((part): part is string => typeof part === 'string' && part !== '');
      return { type: 'text', text: `Resource link: ${item.name} <${item.uri}>${details.length ? ` (${details.join('; ')})` : ''}` };
    }
    default:
      return { type: 'text', text: `[content of type ${JSON.stringify((item as { type?: unknown }).type)} omitted: not an MCP content type this worker knows]` };
  }
}

/**
 * The content of a tool_result for an MCP result. `structuredContent` is added as JSON text unless a text block
 * already carries it (servers are asked to send both, for clients like this one).
 */
export function toolResultContentOf(result: Pick<CallToolResult, 'content' | 'structuredContent'>): ToolResultContent {
  const blocks = (result.content ?? []).map(blockOf);
  if (result.structuredContent !== undefined) {
    const json = JSON.stringify(result.structuredContent);
    const carried = blocks.some((block) => block.type === 'text' && safeParse(block.text) === json);
    if (!carried) blocks.push({ type: 'text', text: json });
  }
  if (blocks.length === 0) return '(no output)';
  return blocks;
}

/** The JSON a text holds, re-serialized compactly, or undefined when it is not JSON. */
function safeParse(text: string): string | undefined {
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** The text of a result, for errors and previews. */
export function textOf(content: ToolResultContent): string {
  if (typeof content === 'string') return content;
  return content.map((block) => (block.type === 'text' ? block.text : `[${block.type}]`)).join('\n');
}
