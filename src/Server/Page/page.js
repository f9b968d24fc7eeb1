// The drawing pad: strokes of ~20 px, sent as a PNG while they are drawn (at most one request
// every 120 ms, and once when the stroke ends); each answer older than the newest shown is dropped.
'use strict';

const pad = document.getElementById('pad');
const ink = pad.getContext('2d');
const seen = document.getElementById('seen').getContext('2d');
const answer = document.getElementById('answer');
const status = document.getElementById('status');
const bars = document.getElementById('bars');
const why = document.getElementById('why');
const whyNote = document.getElementById('why-note');
const whyTitle = document.getElementById('why-title');
const Interval = 120;

let drawing = false, last = null, inked = false;
let sent = 0, shown = 0, timer = null, lastSent = 0;

function clearPad() {
  ink.fillStyle = '#fff';
  ink.fillRect(0, 0, pad.width, pad.height);
  inked = false;
  answer.textContent = '';
  status.textContent = 'Draw a digit in the box.';
  seen.clearRect(0, 0, 28, 28);
  showBars(null);
  why.replaceChildren();
}

function point(event) {
  const box = pad.getBoundingClientRect();
  return { x: (event.clientX - box.left) * pad.width / box.width, y: (event.clientY - box.top) * pad.height / box.height };
}

function stroke(to) {
  ink.strokeStyle = '#000';
  ink.lineWidth = 20;
  ink.lineCap = 'round';
  ink.lineJoin = 'round';
  ink.beginPath();
  ink.moveTo(last.x, last.y);
  ink.lineTo(to.x, to.y);
  ink.stroke();
  last = to;
  inked = true;
}

pad.addEventListener('pointerdown', event => {
  pad.setPointerCapture(event.pointerId);
  drawing = true;
  last = point(event);
  stroke(last);
  schedule();
});
pad.addEventListener('pointermove', event => {
  if (!drawing) return;
  for (const e of event.getCoalescedEvents ? event.getCoalescedEvents() : [event]) stroke(point(e));
  schedule();
});
for (const type of ['pointerup', 'pointercancel']) {
  pad.addEventListener(type, () => {
    if (!drawing) return;
    drawing = false;
    clearTimeout(timer);
    timer = null;
    predict();
  });
}
document.getElementById('clear').addEventListener('click', () => { sent++; shown = sent; clearPad(); });

function schedule() {
  if (timer !== null) return;
  const wait = Math.max(0, Interval - (performance.now() - lastSent));
  timer = setTimeout(() => { timer = null; predict(); }, wait);
}

async function predict() {
  if (!inked) return;
  lastSent = performance.now();
  const number = ++sent;
  const picture = await new Promise(resolve => pad.toBlob(resolve, 'image/png'));
  try {
    const response = await fetch('/api/predict', { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: picture });
    const result = await response.json();
    if (number < shown) return;
    shown = number;
    if (!response.ok) {
      answer.textContent = '';
      status.textContent = result.error;
      return;
    }
    answer.textContent = String(result.digit);
    status.textContent = `top 3: ${result.top3.map(c => `${c.digit} ${(100 * c.probability).toFixed(1)} %`).join(', ')}`;
    showSeen(result.input);
    showBars(result.probabilities);
    explain(picture, number);
  } catch (error) {
    if (number >= shown) status.textContent = `no answer from the server: ${error.message}`;
  }
}

function showSeen(values) {
  const image = seen.createImageData(28, 28);
  values.forEach((v, i) => {
    const grey = Math.round(255 * v);
    image.data.set([grey, grey, grey, 255], 4 * i);
  });
  seen.putImageData(image, 0, 0);
}

function showBars(probabilities) {
  const best = probabilities ? probabilities.indexOf(Math.max(...probabilities)) : -1;
  bars.replaceChildren(...Array.from({ length: 10 }, (_, digit) => {
    const p = probabilities ? probabilities[digit] : 0;
    const row = document.createElement('li');
    row.className = digit === best ? 'best' : '';
    row.innerHTML = '<span class="digit"></span><span class="track"><span class="bar"></span></span><span class="value"></span>';
    row.querySelector('.digit').textContent = digit;
    row.querySelector('.bar').style.width = `${(100 * p).toFixed(1)}%`;
    row.querySelector('.value').textContent = probabilities ? `${(100 * p).toFixed(1)} %` : '';
    return row;
  }));
}

async function explain(picture, number) {
  const response = await fetch('/api/explain', { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: picture });
  if (!response.ok || number < shown) return;
  const result = await response.json();
  why.replaceChildren(...result.pictures.map(p => figure(p, result)));
}

// A unit's weights in red (positive) and blue (negative), or a feature map in grey.
function figure(picture, result) {
  const canvas = document.createElement('canvas');
  canvas.width = result.width;
  canvas.height = result.height;
  const context = canvas.getContext('2d');
  const image = context.createImageData(result.width, result.height);
  const scale = Math.max(1e-12, ...picture.values.map(Math.abs));
  picture.values.forEach((v, i) => {
    const t = Math.min(1, Math.abs(v) / scale);
    const pixel = result.kind === 'units'
      ? (v >= 0 ? [255, 255 * (1 - t), 255 * (1 - t)] : [255 * (1 - t), 255 * (1 - t), 255])
      : [255 * t, 255 * t, 255 * t];
    image.data.set([...pixel.map(Math.round), 255], 4 * i);
  });
  context.putImageData(image, 0, 0);
  const box = document.createElement('figure');
  const caption = document.createElement('figcaption');
  caption.textContent = result.kind === 'units' ? `unit ${picture.index}: ${picture.contribution.toFixed(2)}` : `map ${picture.index}`;
  box.append(canvas, caption);
  return box;
}

// The network's layers as Keras' model.summary() shows them, as `mnistgpu summary` prints them.
function summarize(model) {
  const body = document.querySelector('#summary tbody');
  body.replaceChildren(...model.summary.map(layer => {
    const row = document.createElement('tr');
    for (const text of [`${layer.name} (${layer.type})`, layer.outputShape, layer.parameters.toLocaleString('en')]) {
      const cell = document.createElement('td');
      cell.textContent = text;
      row.append(cell);
    }
    return row;
  }));
  document.getElementById('totals').textContent = model.totals.join(' · ');
}

async function describe() {
  const element = document.getElementById('model');
  try {
    const response = await fetch('/api/model');
    const model = await response.json();
    if (!response.ok) { element.textContent = model.error; return; }
    const accuracy = model.testAccuracy === null ? 'no test accuracy recorded' : `${(100 * model.testAccuracy).toFixed(2)} % on the 10,000 test digits`;
    element.textContent = `${model.network} (${model.parameters.toLocaleString('en')} parameters), ` +
      `${model.optimizer}, batch ${model.batchSize}, ${model.epochsTrained} epoch${model.epochsTrained === 1 ? '' : 's'}: ${accuracy}. Running on ${model.device}.`;
    summarize(model);
    if (model.explains === 'units') {
      whyTitle.textContent = 'The 8 first-layer units that push the answer most';
      whyNote.textContent = 'Each unit\'s weights over the 28×28 picture (red positive, blue negative), with its activation × its pull on the answer through the layers above.';
    } else if (model.explains === 'featureMaps') {
      whyTitle.textContent = 'The first layer\'s feature maps';
      whyNote.textContent = 'What each of the first convolution\'s filters finds in the picture (brighter: stronger).';
    } else {
      whyTitle.textContent = '';
    }
  } catch (error) {
    element.textContent = `cannot reach the server: ${error.message}`;
  }
}

clearPad();
describe();
