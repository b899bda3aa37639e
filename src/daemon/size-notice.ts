/**
 * A viewer's terminal smaller than the session cannot show it whole (the session's
 * size is its attached client's; a viewer never resizes it): the picture is cut at
 * the edges and long rows wrap. Rather than leave the user guessing, the viewer
 * gets one line saying so at the bottom of its terminal, drawn over the restored
 * screen (the next output may overwrite it).
 */
export interface Size {
  cols: number;
  rows: number;
}

/** The notice for a viewer of size `viewer` on a session of size `session`, or null when it fits. */
export function sizeNotice(session: Size, viewer: Size): Buffer | null {
  if (viewer.cols >= session.cols && viewer.rows >= session.rows) return null;
  const text = `[tshpool: this session is ${session.cols}x${session.rows}, this terminal ${viewer.cols}x${viewer.rows}: the view is cut; enlarge the terminal to see all]`;
  // Save the cursor, bottom row, reverse video, the text cut to the width, clear the rest, restore.
  return Buffer.from(`\x1b7\x1b[${viewer.rows};1H\x1b[0;7m${text.slice(0, viewer.cols)}\x1b[0m\x1b[K\x1b8`);
}
