/**
 * weir/tasks/report: a chart drawn as SVG and rendered to PNG, sent as an inline (CID)
 * image of a report email through a real SMTP server in-process; what arrived is parsed
 * and its image decoded (size, and pixels that are not all background).
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { barChartSvg, chartPng, reportEmail, reportHtml } from '../tasks/report.ts';
import { sendTemplatedEmail } from '../runtime/alerts.ts';
import { decodePng } from './support/png.ts';

const bars = [{ label: 'Electronics', value: 12_400 }, { label: 'Books <script>', value: 3_150.5 }, { label: 'Toys', value: 870 }];

test('a bar chart renders to a PNG of its size (x2) with drawn pixels; its SVG escapes the labels', () => {
  const chart = barChartSvg({ title: 'Revenue by category', bars, unit: 'USD' });
  expect(chart.svg).toContain('Books &#60;script&#62;');
  expect(chart.svg).not.toContain('<script>');
  const img = decodePng(chartPng(chart));
  expect([img.width, img.height]).toEqual([chart.width * 2, chart.height * 2]);
  // The bars are blue (#2563eb): some pixels are that colour, so the chart is not blank.
  let blue = 0;
  for (let i = 0; i < img.pixels.length; i += img.channels) if (img.pixels[i] === 0x25 && img.pixels[i + 1] === 0x63 && img.pixels[i + 2] === 0xeb) blue++;
  expect(blue).toBeGreaterThan(1000);
});

test('the report email arrives with its chart as an inline PNG the HTML shows by cid, and the text part names it', async () => {
  const inbox: ParsedMail[] = [];
  let arrived!: () => void;
  const got = new Promise<void>((r) => (arrived = r));
  const smtp = new SMTPServer({ authOptional: true, disabledCommands: ['STARTTLS'], onData(stream, _s, cb) {
    simpleParser(stream, { keepCidLinks: true }).then((m) => { inbox.push(m); cb(); arrived(); }, cb);
  } });
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
  try {
    const chart = barChartSvg({ title: 'Revenue by category', bars, unit: 'USD' });
    const email = reportEmail({
      to: 'sales@example.com', title: 'Daily sales 2024-05-01 <b>', kpis: [{ label: 'Revenue', value: '16,420.50 USD' }, { label: 'Orders', value: '42' }],
      tables: [{ title: 'Top products', columns: ['product', 'revenue'], rows: [['p-1', '9,000.00'], ['p-<2>', '3,000.00']] }], charts: [chart], dagId: 'sales_daily', runId: 'r1',
    });
    const sent = await sendTemplatedEmail(email, { smtpUrl: `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}` });
    expect(sent.transport).toBe('smtp');
    await got;
    const mail = inbox[0]!;
    expect(mail.subject).toBe('[weir] Daily sales 2024-05-01 <b>');
    const image = mail.attachments.find((a) => a.contentType === 'image/png')!;
    expect(image.cid).toBe('chart-1@weir');
    expect(mail.html).toContain('src="cid:chart-1@weir"');
    expect(mail.html).toContain('Daily sales 2024-05-01 &lt;b&gt;');
    expect(mail.html).toContain('p-&lt;2&gt;');
    expect(mail.text).toContain('[chart: Revenue by category]');
    expect(mail.text).toContain('Revenue:');
    const img = decodePng(image.content);
    expect([img.width, img.height]).toEqual([chart.width * 2, chart.height * 2]);
    expect(img.pixels.some((v, i) => i % img.channels !== 3 && v !== 255)).toBe(true);
  } finally {
    await new Promise<void>((r) => smtp.close(() => r()));
  }
});

test('the same report as a browser page keeps the chart as SVG and escapes every value', () => {
  const html = reportHtml({ title: 'Daily <i>sales</i>', kpis: [{ label: 'Revenue', value: '<1>' }], tables: [], charts: [barChartSvg({ title: 'By channel', bars })], dagId: 'sales_daily', runId: 'r1' });
  expect(html).toContain('<svg xmlns="http://www.w3.org/2000/svg"');
  expect(html).toContain('Daily &#60;i&#62;sales&#60;/i&#62;');
  expect(html).toContain('&#60;1&#62;');
  expect(html).not.toContain('<i>');
});
