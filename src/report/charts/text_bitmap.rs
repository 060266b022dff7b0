//! The bitmap backend with correct text.

use plotters::backend::{BitMapBackend, DrawingBackend};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};

/// The embedded faces, parsed once.
fn faces() -> &'static (ab_glyph::FontRef<'static>, ab_glyph::FontRef<'static>) {
    static FACES: std::sync::OnceLock<(ab_glyph::FontRef<'static>, ab_glyph::FontRef<'static>)> =
        std::sync::OnceLock::new();
    FACES.get_or_init(|| {
        (
            ab_glyph::FontRef::try_from_slice(dejavu::sans::regular()).expect("valid DejaVu Sans"),
            ab_glyph::FontRef::try_from_slice(dejavu::sans::bold())
                .expect("valid DejaVu Sans Bold"),
        )
    })
}

/// A [`BitMapBackend`] whose text is rasterised with correct glyph
/// positions. (plotters 0.3.7's ab_glyph text drops each glyph's left side
/// bearing and truncates advances, so "connections" reads "connecti ons".)
/// Layout (sizes, anchors, rotation) follows plotters' own conventions, so the
/// picture matches the SVG.
pub(super) struct TextBitmap<'a>(pub(super) BitMapBackend<'a>);

impl TextBitmap<'_> {
    fn glyphs<F: FnMut(i32, i32, f32)>(text: &str, size: f64, bold: bool, mut put: F) {
        use ab_glyph::{point, Font, ScaleFont};
        let face = if bold { &faces().1 } else { &faces().0 };
        let font = face.as_scaled(size as f32);
        let mut caret = 0f32;
        let mut prev: Option<ab_glyph::GlyphId> = None;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = prev {
                caret += font.kern(p, id);
            }
            let glyph = id.with_scale_and_position(size as f32, point(caret, 0.0));
            if let Some(q) = font.outline_glyph(glyph) {
                let r = q.px_bounds();
                // plotters' vertical convention: the glyph box top at size/2 + min.y.
                let y0 = ((size as f32) / 2.0 + r.min.y) as i32;
                let x0 = r.min.x.round() as i32;
                q.draw(|x, y, cov| put(x0 + x as i32, y0 + y as i32, cov));
            }
            caret += font.h_advance(id);
            prev = Some(id);
        }
    }
}

impl DrawingBackend for TextBitmap<'_> {
    type ErrorType = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }
    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.ensure_prepared()
    }
    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.present()
    }
    fn draw_pixel(
        &mut self,
        p: BackendCoord,
        c: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_pixel(p, c)
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        a: BackendCoord,
        b: BackendCoord,
        s: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_line(a, b, s)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        a: BackendCoord,
        b: BackendCoord,
        s: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_rect(a, b, s, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        s: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_path(path, s)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        c: BackendCoord,
        r: u32,
        s: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_circle(c, r, s, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        s: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.fill_polygon(vert, s)
    }
    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.blit_bitmap(pos, size, src)
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let ((min_x, min_y), (max_x, max_y)) = style
            .layout_box(text)
            .map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
        let (width, height) = (max_x - min_x, max_y - min_y);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let trans = style.transform();
        let (w, h) = self.get_size();
        let bold = matches!(style.style(), plotters_backend::FontStyle::Bold);
        let mut result = Ok(());
        Self::glyphs(text, style.size(), bold, |x, y, cov| {
            if result.is_err() || cov <= 0.0 {
                return;
            }
            let (x, y) = trans.transform(x + dx - min_x, y + dy - min_y);
            let (x, y) = (pos.0 + x, pos.1 + y);
            if x >= 0 && x < w as i32 && y >= 0 && y < h as i32 {
                let c = BackendColor {
                    alpha: color.alpha * cov.min(1.0) as f64,
                    rgb: color.rgb,
                };
                result = self.0.draw_pixel((x, y), c);
            }
        });
        result
    }
}
