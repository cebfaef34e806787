--- Pure text logic shared by Splice's own ghost text and the native one: what part of a
--- suggestion "accept word" and "accept line" take, and what remains of a suggestion after the
--- user typed some of it.
local M = {}

--- The next word of `text`: leading blanks, then a run of word characters or of punctuation.
--- A leading line break comes with the next line's indentation and word.
---@param text string
---@return string
function M.next_word(text)
  return text:match("^%s*[%w_]+") or text:match("^%s*[^%w_%s]+") or text:match("^%s+") or text
end

--- The rest of the current line of `text`; when `text` starts with a line break, that break and
--- the whole next line (without its own break).
---@param text string
---@return string
function M.next_line(text)
  if text:sub(1, 1) == "\n" then
    return "\n" .. (text:sub(2):match("^[^\n]*"))
  end
  return text:match("^[^\n]*")
end

--- The piece of `text` that `part` ("all", "word" or "line") accepts.
function M.piece(text, part)
  if part == "word" then
    return M.next_word(text)
  elseif part == "line" then
    return M.next_line(text)
  end
  return text
end

--- What remains of suggestion `ghost` after the user typed `typed` at its start; nil when the
--- typing left it (then a new request is due).
---@param ghost string
---@param typed string
---@return string|nil
function M.after_typing(ghost, typed)
  if typed ~= "" and #typed < #ghost and ghost:sub(1, #typed) == typed then
    return ghost:sub(#typed + 1)
  end
  return nil
end

--- `text` split into lines, tabs shown as `tabstop` spaces (virtual text draws no tabs).
function M.display_lines(text, tabstop)
  local spaces = string.rep(" ", tabstop or 8)
  return vim.split(text:gsub("\t", spaces), "\n", { plain = true })
end

return M
